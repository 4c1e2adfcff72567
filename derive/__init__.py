"""backprop-derive: symbolic derivation of backpropagation, proved entry by entry."""

from derive.api import derive
from derive.backward.derivation import Derivation
from derive.network.spec import XOR_SPEC, NetworkSpec, SpecError, parse_spec

__all__ = ["derive", "Derivation", "NetworkSpec", "SpecError", "parse_spec", "XOR_SPEC"]
