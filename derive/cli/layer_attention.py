"""`--layer attention|residual|embedding` for `backprop derive`, `check` and `verify`.

The family's entry in derive/cli/layers.py's FAMILIES.

    backprop derive --layer attention [--causal] [--heads H] [--tokens T] [--width M]
        writes output/attention/derivation.{tex,pdf,md,html}
    backprop check --layer attention|residual [--causal] [--heads H] [--tokens T] [--width M] [--data point.json]
    backprop check --layer embedding [--tokens T] [--vocab N] [--data point.json]
        derived, hand-written and finite differences, cs231n's gradient check
    backprop verify file.py:fn --layer attention|residual|embedding
        the person's backward checked, its mistake named
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from derive.cli.layer_family import (LayerFamily, LayerOption, LayerOptionError, LayerWriteUp, derive_summary,
                                     verify_settings)

LAYERS = ("attention", "residual", "embedding")
EXIT_OK, EXIT_FAILED_CHECK = 0, 1
MAX_ENTRIES = 4096  # finite differences take every entry of X and the weights


class AttentionDataError(ValueError):
    """A --data file the attention check cannot use."""


def count(text) -> int:
    """--tokens, --width, --heads, --vocab read as text: derive.cli.layer_family.fill_defaults takes a
    given 0 (== False) for "not given", so the number is parsed here, after the defaults."""
    try:
        return int(text)
    except (TypeError, ValueError):
        raise LayerOptionError(f"expected a whole number, got {text!r}") from None


def _sizes(args) -> tuple[int, int, int]:
    from derive.attention.errors import check_sizes

    for dest in ("attention_tokens", "attention_width", "attention_heads", "vocab"):
        setattr(args, dest, count(getattr(args, dest)))
    d = check_sizes(args.attention_tokens, args.attention_width, args.attention_heads)
    if args.attention_tokens * args.attention_width > MAX_ENTRIES:
        raise LayerOptionError(f"T x width = {args.attention_tokens * args.attention_width}: finite differences "
                               f"take every entry; keep it <= {MAX_ENTRIES}")
    return args.attention_tokens, args.attention_width, d


def _program(layer: str):
    from derive.attention import EMBEDDING, ONE_HEAD, RESIDUAL, derive_program

    return derive_program({"attention": ONE_HEAD, "residual": RESIDUAL, "embedding": EMBEDDING}[layer])


def _embedding_tokens(count: int, vocab: int) -> list[int]:
    """count ids cycling through the first half of the vocabulary, so that tokens repeat."""
    return [i % max(1, vocab // 2) for i in range(count)]


# ------------------------------------------------------------------------------ points


def _array(data: dict, key: str, path, dtype=float) -> np.ndarray:
    try:
        array = np.asarray(data[key], dtype=dtype)
    except (TypeError, ValueError):
        raise AttentionDataError(f"{path}: {key} is not an array of numbers") from None
    if dtype is float and not np.all(np.isfinite(array)):
        raise AttentionDataError(f"{path}: {key} holds a number that is not finite")
    return array


def _read_json(path) -> dict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise AttentionDataError(f"cannot read {path}: {error}") from None
    if not isinstance(data, dict):
        raise AttentionDataError(f"{path} must hold a JSON object")
    return data


def read_attention_point(path, causal: bool):
    """{"X", "W_q", "W_k", "W_v", "W_o", "dout"} and an optional "mask" (T x T of 0/1), one head."""
    from checks.attention.check import AttentionPoint
    from derive.attention.errors import check_mask

    data = _read_json(path)
    needed = {"X", "W_q", "W_k", "W_v", "W_o", "dout"}
    if not needed <= set(data) or set(data) - needed - {"mask"}:
        raise AttentionDataError(f"{path} must hold the keys {', '.join(sorted(needed))} and optionally mask")
    X, dout = _array(data, "X", path), _array(data, "dout", path)
    weights = {w: _array(data, w, path) for w in ("W_q", "W_k", "W_v", "W_o")}
    if X.ndim != 2 or dout.shape != X.shape:
        raise AttentionDataError(f"{path}: X must be T x m and dout of X's shape, got {X.shape} and {dout.shape}")
    T, m = X.shape
    d = weights["W_q"].shape[1] if weights["W_q"].ndim == 2 else 0
    if d < 1:
        raise AttentionDataError(f"{path}: the key width d (columns of W_q) must be at least 1")
    for w, shape in (("W_q", (m, d)), ("W_k", (m, d)), ("W_v", (m, d)), ("W_o", (d, m))):
        if weights[w].shape != shape:
            raise AttentionDataError(f"{path}: {w} has shape {weights[w].shape}, expected {shape}")
    if "mask" in data:
        mask = check_mask(data["mask"], T)
    else:
        mask = np.tril(np.ones((T, T), dtype=bool)) if causal else np.ones((T, T), dtype=bool)
    return AttentionPoint(X, (weights,), mask, dout, str(path))


def read_embedding_point(path, vocab: int | None):
    """{"tokens": [ids], "C": vocab x m, "dout": T x m}."""
    from checks.attention.check import EmbeddingPoint
    from derive.attention.errors import check_tokens

    data = _read_json(path)
    if set(data) != {"tokens", "C", "dout"}:
        raise AttentionDataError(f"{path} must hold exactly the keys tokens, C, dout")
    C, dout = _array(data, "C", path), _array(data, "dout", path)
    if C.ndim != 2:
        raise AttentionDataError(f"{path}: C must be vocabulary x width, got shape {C.shape}")
    if vocab is not None and vocab != C.shape[0]:
        raise AttentionDataError(f"{path}: C has {C.shape[0]} rows but --vocab is {vocab}")
    tokens = check_tokens(data["tokens"] if isinstance(data["tokens"], list) else [], C.shape[0])
    if dout.shape != (len(tokens), C.shape[1]):
        raise AttentionDataError(f"{path}: dout has shape {dout.shape}, expected {(len(tokens), C.shape[1])}")
    return EmbeddingPoint(tokens, C, dout, str(path))


# ------------------------------------------------------------------------------ derive


def _numeric_table(verdict, point_text: str):
    from checks.attention.check import LIMITS, PAIRS, ROUTE_TITLES
    from derive.writeup.document import NumericTable

    return NumericTable(point_text, tuple(f"{ROUTE_TITLES[a]} vs {ROUTE_TITLES[b]}" for a, b in PAIRS),
                        tuple(1e-12 if limit < 1e-8 else 1e-6 for limit in LIMITS),
                        tuple(c.name for c in verdict.comparisons), tuple(c.errors for c in verdict.comparisons),
                        verdict.agree)


def write_layer_derivation(layer: str, folder: Path, formats: tuple[str, ...], tokens: int = 4, width: int = 4,
                           heads: int = 1, causal: bool = False, vocab: int = 4):
    """Derives, proves and checks one layer and writes its document; returns (written, proofs, verdict, pdf)."""
    from checks.attention.check import check_attention, check_embedding, default_embedding_point, default_point
    from derive.attention.proofs import prove_all, prove_flash_identity
    from derive.attention.writeup import build_document
    from derive.writeup.files import write_document
    from derive.writeup.html import page_html

    program = _program(layer)
    proofs = prove_all(program)
    flash = prove_flash_identity(program) if "softmax" in program.stages else None
    if layer == "embedding":
        point = default_embedding_point(_embedding_tokens(tokens, vocab), vocab, width)
        verdict = check_embedding(point, program)
        text = (f"tokens {list(map(int, point.tokens))} of a vocabulary of {vocab} (repeated), width {width}, "
                "$C$ and d$E$ randn (seed 0)")
    else:
        point = default_point(tokens, width, heads, causal)
        verdict = check_attention(point, layer == "residual", program)
        text = (f"$T = {tokens}$ tokens, width $m = {width}$, {heads} head{'s' if heads > 1 else ''} of $d = "
                f"{width // heads}${', causal mask' if causal else ''}, $X$ and d$Y$ randn, $W$ randn$/\\sqrt{{m}}$ "
                "(seed 0)")
    document = build_document(layer, program, proofs, flash, _numeric_table(verdict, text), causal, heads)
    written, pdf = write_document(folder, document, formats, lambda: page_html(document))
    return tuple(written), proofs + ((flash,) if flash else ()), verdict, pdf


def run_derive(args: argparse.Namespace) -> int:
    from derive.writeup import output_files
    from derive.cli.derive import parse_formats
    from derive.writeup.files import FORMATS
    from derive.writeup.output_files import OutputError, check_name, check_writable_folder

    tokens, width, _ = _sizes(args)
    formats = parse_formats(args.formats if args.formats is not None else ",".join(FORMATS))
    if args.formats is not None and "pdf" in formats and output_files.tex_engine() is None:
        raise OutputError(f"--formats pdf needs {output_files.TEX_ENGINE}, which is not on PATH")
    default = args.layer + ("-causal" if args.causal else "") + (f"-{args.attention_heads}-heads"
                                                                   if args.attention_heads > 1 else "")
    name = check_name(args.name if args.name is not None else default)
    folder = check_writable_folder(Path(args.out) / name, "derivation.tex")
    written, proofs, verdict, pdf = write_layer_derivation(args.layer, folder, formats, tokens, width,
                                                           args.attention_heads, args.causal, args.vocab)
    return derive_summary(f"{args.layer}: every gradient found from the forward pass", proofs, verdict, pdf, written,
                          folder)


# ------------------------------------------------------------------------------ check


def run_check(args: argparse.Namespace) -> int:
    from checks.attention.check import check_attention, check_embedding, default_embedding_point, default_point

    if getattr(args, "params", None) is not None:
        raise LayerOptionError("--params is for a network; with --layer give the point with --data FILE.json")
    if args.layer == "embedding":
        tokens, width, _ = _sizes(args)
        if args.data is not None:
            point = read_embedding_point(args.data, None)  # the vocabulary is C's rows
        else:
            if args.vocab < 1:
                raise LayerOptionError(f"--vocab must be at least 1, got {args.vocab}")
            point = default_embedding_point(_embedding_tokens(tokens, args.vocab), args.vocab, width, args.seed)
        verdict = check_embedding(point)
    else:
        tokens, width, _ = _sizes(args)
        if args.data is not None:
            point = read_attention_point(args.data, args.causal)
        else:
            point = default_point(tokens, width, args.attention_heads, args.causal, args.seed)
        verdict = check_attention(point, args.layer == "residual")
    sys.stdout.write(verdict.text())
    return EXIT_OK if verdict.agree else EXIT_FAILED_CHECK


# ------------------------------------------------------------------------------ verify


def run_verify(args: argparse.Namespace) -> int:
    from checks.attention.verify import DEFAULT_TIMEOUT, DEFAULT_TOLERANCE, verify_function
    from derive.cli.verify import load_function

    settings = verify_settings(args, DEFAULT_TOLERANCE, DEFAULT_TIMEOUT)
    fn, label = load_function(args.target)
    verdict = verify_function(fn, args.layer, points=settings.points, seed=settings.seed,
                              tolerance=settings.tolerance, name=label, timeout=settings.timeout)
    print(verdict.text())
    return EXIT_OK if verdict.passed else EXIT_FAILED_CHECK


def write_golden(name: str, folder: Path, formats: tuple[str, ...]) -> LayerWriteUp:
    """The golden write-up of `name` at the default sizes (tools/refresh_golden.py)."""
    written, proofs, verdict, pdf = write_layer_derivation(name, folder, formats)
    summary = () if pdf is None or any(p.suffix == ".pdf" for p in written) else (pdf.message,)
    return LayerWriteUp(tuple(written), summary, all(p.holds for p in proofs) and verdict.agree)


FAMILY = LayerFamily(
    names=LAYERS,
    summary="scaled dot-product attention with projections and heads, the residual connection, the embedding",
    options=(
        LayerOption(("--causal",), "causal", "with --layer attention|residual: mask every later token", flag=True,
                    commands=("derive", "check")),
        LayerOption(("--heads",), "attention_heads", "with --layer attention|residual: heads (default 1; they "
                    "must divide --width)", type=str, default=1, metavar="H", commands=("derive", "check")),
        LayerOption(("--tokens",), "attention_tokens", "with --layer attention|residual|embedding: tokens T "
                    "(default 4)", type=str, default=4, metavar="T", commands=("derive", "check")),
        LayerOption(("--width",), "attention_width", "with --layer attention|residual|embedding: model width m "
                    "(default 4; d = m / heads)", type=str, default=4, metavar="M", commands=("derive", "check")),
        LayerOption(("--vocab",), "vocab", "with --layer embedding: vocabulary size (default 4)", type=str,
                    default=4, metavar="N", commands=("derive", "check")),
    ),
    derive=run_derive, check=run_check, verify=run_verify,
    goldens=(("attention", "attention"), ("attention-residual", "residual"), ("embedding", "embedding")),
    write_golden=write_golden,
)
