"""Input the attention block is undefined for: each a ValueError subclass, one line for the CLI."""

from __future__ import annotations

import numpy as np


class AttentionInputError(ValueError):
    """Sizes, tokens or a mask the attention block (or the embedding) cannot take."""


def check_sizes(tokens: int, width: int, heads: int) -> int:
    """The key width d = width / heads; refuses T < 1, d < 1 and heads that do not divide the width."""
    if tokens < 1:
        raise AttentionInputError(f"--tokens must be at least 1, got T = {tokens}")
    if heads < 1:
        raise AttentionInputError(f"--heads must be at least 1, got {heads}")
    if width < 1:
        raise AttentionInputError(f"the key width d = width / heads must be at least 1, got width {width}")
    if width % heads:
        raise AttentionInputError(f"{heads} heads do not divide the model width {width}: each head needs "
                                  f"width / heads columns")
    return width // heads


def check_tokens(tokens, vocab: int) -> np.ndarray:
    """Token ids as integers in 0 .. vocab - 1."""
    if vocab < 1:
        raise AttentionInputError(f"--vocab must be at least 1, got {vocab}")
    ids = np.asarray(tokens)
    if ids.ndim != 1 or ids.size < 1 or not np.issubdtype(ids.dtype, np.integer):
        raise AttentionInputError(f"tokens must be a non-empty list of integer ids, got {tokens!r}")
    outside = [int(t) for t in ids if not 0 <= t < vocab]
    if outside:
        raise AttentionInputError(f"token id {outside[0]} is out of the vocabulary 0..{vocab - 1} (--vocab {vocab})")
    return ids.astype(int)


def check_mask(mask, tokens: int) -> np.ndarray:
    """A T x T mask of booleans (True: attend); every row must keep at least one entry."""
    array = np.asarray(mask)
    if array.shape != (tokens, tokens):
        raise AttentionInputError(f"the mask has shape {array.shape}, expected ({tokens}, {tokens}) for T = {tokens} tokens")
    if array.dtype != bool and not np.isin(array, (0, 1)).all():
        raise AttentionInputError("the mask must hold 0/1 or true/false (1: attend, 0: masked)")
    array = array.astype(bool)
    if not array.any(axis=1).all():
        raise AttentionInputError("a row of the mask masks every token: its softmax has nothing to sum")
    return array
