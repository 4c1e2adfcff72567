"""derive(spec): the one entry point. Derive the delta rule, then prove it by every route that fits."""

from __future__ import annotations

import dataclasses

from derive.backward.derivation import Derivation, derivation_of
from derive.proofs.index_level import index_argument
from derive.proofs.local import prove_activation_rules
from derive.network.size_limits import check_size
from derive.proofs.entrywise import affordable, prove_entrywise
from derive.proofs.randomized import prove_randomized
from derive.progress import progress
from derive.network.spec import NetworkSpec, SpecError

PROOF_CHOICES = ("auto", "all", "entrywise", "randomized", "none")


def derive(spec: NetworkSpec, proofs: str = "auto", size_limit_factor: float = 1.0) -> Derivation:
    """Derives and proves the delta rule of `spec`.

    Args:
        spec: the network.
        proofs: "auto" runs the entrywise proof against SymPy's diff of the whole cost when the
            net is small enough (derive.proofs.entrywise.affordable), again with the activations
            written out for the tiniest nets, and the randomized exact proof always; "all" forces both; "entrywise" or "randomized" runs one; "none" skips.
            The local proof of the activation rules always runs.
        size_limit_factor: multiplies every limit of derive.network.size_limits; raise it to derive a
            net over the limits on purpose.

    Returns:
        The Derivation, with its proofs and the size-independent index-level arguments.

    Raises:
        SpecError: `proofs` is not one of PROOF_CHOICES.
        NetworkTooLarge: the net is over a size limit (a SpecError), refused before any work.

    >>> from derive.network.spec import XOR_SPEC
    >>> derive(XOR_SPEC).gradient("W1")
    X.T*delta2
    """
    if not isinstance(spec, NetworkSpec):
        raise SpecError(f"derive needs a NetworkSpec (parse_spec('2-3-1') makes one), got {spec!r}")
    if proofs not in PROOF_CHOICES:
        raise SpecError(f"unknown proof choice {proofs!r}; accepted: {', '.join(PROOF_CHOICES)}")
    check_size(spec, "derive", size_limit_factor)
    rule = derivation_of(spec)
    # each proof is one step of the bar a terminal shows for long work (derive.progress)
    steps = []
    if proofs in ("all", "entrywise") or (proofs == "auto" and affordable(spec)):
        steps.append(lambda: prove_entrywise(rule, concrete=False))
    if proofs == "auto" and affordable(spec, concrete=True) and set(spec.activations) != {"f"}:
        steps.append(lambda: prove_entrywise(rule, concrete=True))
    if proofs in ("auto", "all", "randomized"):
        steps.append(lambda: prove_randomized(rule))
    if proofs != "none" and set(spec.activations) != {"f"}:  # a generic f has no rule to prove
        steps.append(lambda: prove_activation_rules(set(spec.activations), spec.sizes[-1], spec.cost))
    found = [step() for step in progress(steps, "proving")]
    arguments = (index_argument(spec.convention, "dJ/da"), index_argument(spec.convention, "dJ/dW"))
    return dataclasses.replace(rule, proofs=tuple(found), index_arguments=arguments)
