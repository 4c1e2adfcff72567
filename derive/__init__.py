"""backprop-derive: symbolic derivation of backpropagation, proved entry by entry."""

from derive.spec import NetworkSpec, SpecError, parse_spec, XOR_SPEC

__all__ = ["NetworkSpec", "SpecError", "parse_spec", "XOR_SPEC"]
