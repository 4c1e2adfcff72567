"""The proofs that a found formula is SymPy's derivative: entrywise, randomized over GF(p), local identities, index level."""
