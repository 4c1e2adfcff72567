"""Proof records shared by the three strategies: what was compared, and the result."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProofCheck:
    """One formula compared with an independent route.

    Args:
        quantity: what the formula gives, e.g. "dJ/dW1" or "delta2".
        layer: the layer number the formula belongs to.
        compared_with: the independent route, e.g. "SymPy diff of J (generic f)".
        entries: how many scalar entries were compared.
        holds: True when every entry agreed exactly.
        failure: "" when it holds; otherwise the layer, the entry and both values.
    """

    quantity: str
    layer: int
    compared_with: str
    entries: int
    holds: bool
    failure: str = ""


@dataclass(frozen=True)
class Proof:
    """One strategy's verdict on every formula of a derivation."""

    strategy: str  # "entrywise", "randomized exact", "index level"
    description: str
    checks: tuple[ProofCheck, ...]
    caveat: str = ""

    @property
    def holds(self) -> bool:
        return all(check.holds for check in self.checks)

    @property
    def failures(self) -> tuple[ProofCheck, ...]:
        return tuple(check for check in self.checks if not check.holds)


@dataclass(frozen=True)
class LayerProof:
    """One proof of a layer family's gradients (normalization, convolution, recurrence, attention).

    holds, and for a failure which gradient (and entry) and what was left over.
    """

    method: str
    holds: bool
    checked: tuple[str, ...]
    first_failure: str | None = None

    def text(self) -> str:
        return f"{self.method}: " + ("holds for " + ", ".join(self.checked) if self.holds
                                     else f"FAILS: {self.first_failure}")
