"""`--layer conv2d|conv1d|maxpool|avgpool` for `backprop derive`, `check` and `verify`.

The family's entry in derive/cli/layers.py's FAMILIES.

    backprop derive --layer conv2d [--kernel 3x3] [--stride 1] [--padding 1] [--filters 2] [--channels 1]
                    [--size 5x5] [-N 1] [--exact-fit]
        writes output/conv2d/derivation.{tex,pdf,md,html}
    backprop check --layer conv2d [...same...] [--data point.json]
        derived, hand-written and finite differences, cs231n's gradient check
    backprop verify file.py:fn --layer conv2d
        fn(x, w, b, dout, stride, pad) -> (dx, dw, db)   (pooling: fn(x, dout, kernel, stride) -> dx)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from derive.cli.layer_family import (LayerFamily, LayerOption, LayerOptionError, LayerWriteUp, derive_summary,
                                     verify_settings)

EXIT_OK, EXIT_FAILED_CHECK = 0, 1
STEM = "derivation"
# the defaults per layer: the case for conv2d (1 x 1 x 5 x 5, two 3 x 3 filters, stride 1, padding 1)
DEFAULTS = {
    "conv2d": dict(batch=1, channels=1, size=(5, 5), kernel=(3, 3), stride=1, padding=1, filters=2),
    "conv1d": dict(batch=1, channels=1, size=(8,), kernel=(3,), stride=1, padding=1, filters=2),
    "maxpool": dict(batch=1, channels=1, size=(4, 4), kernel=(2, 2), stride=2, padding=0, filters=1),
    "avgpool": dict(batch=1, channels=1, size=(4, 4), kernel=(2, 2), stride=2, padding=0, filters=1),
}
SPATIAL = {"conv2d": 2, "conv1d": 1, "maxpool": 2, "avgpool": 2}
# finite differences take every entry, the entrywise proof every entry symbolically: keep them small
MAX_ENTRIES = 20_000
ENTRYWISE_ENTRIES = 400


def parse_size(text: str) -> tuple[int, ...]:
    """"3x3" -> (3, 3), "5" -> (5,) (or (5, 5) where two axes are meant: see `_axes`)."""
    parts = text.lower().split("x")
    try:
        values = tuple(int(part) for part in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a size like 3 or 3x3, got {text!r}") from None
    if len(values) > 2:
        raise argparse.ArgumentTypeError(f"at most two axes, got {text!r}")
    return values


def _axes(values: tuple[int, ...], spatial: int, flag: str) -> tuple[int, ...]:
    if len(values) == spatial:
        return values
    if len(values) == 1:
        return values * spatial
    raise LayerOptionError(f"{flag} {'x'.join(map(str, values))}: {spatial} axis expected for this layer")


def layer_from_args(args: argparse.Namespace):
    """The layer the options describe, refused with one line if it does not fit its input."""
    from derive.convolution.layer import make_layer

    kind = args.layer
    spatial, defaults = SPATIAL[kind], DEFAULTS[kind]
    given = {"batch": args.layer_examples, "channels": args.conv_channels, "filters": args.conv_filters,
             "stride": args.conv_stride, "padding": args.conv_padding}
    values = {k: (defaults[k] if v is None else v) for k, v in given.items()}
    size = defaults["size"] if args.conv_size is None else _axes(args.conv_size, spatial, "--size")
    kernel = defaults["kernel"] if args.conv_kernel is None else _axes(args.conv_kernel, spatial, "--kernel")
    if kind in ("maxpool", "avgpool") and args.conv_filters is not None:
        raise LayerOptionError(f"--filters does not go with --layer {kind}: pooling keeps the channels")
    layer = make_layer(kind, values["batch"], values["channels"], size, kernel, values["stride"], values["padding"],
                       values["filters"], bool(args.exact_fit))
    entries = sum(int(np.prod(s)) for s in (layer.input_shape, layer.weight_shape, layer.output_shape))
    if entries > MAX_ENTRIES:
        raise LayerOptionError(f"{entries} entries: finite differences take every one; keep input, filters and "
                               f"output under {MAX_ENTRIES} entries")
    return layer


def proof_layers(layer):
    """(tiny, realistic): the entrywise proof's layer and the randomized proof's (28 x 28, eight filters)."""
    from derive.convolution.layer import make_layer

    tiny = layer
    if sum(int(np.prod(s)) for s in (layer.input_shape, layer.weight_shape)) > ENTRYWISE_ENTRIES:
        size = tuple(k + 2 for k in layer.kernel)
        tiny = make_layer(layer.kind, 1, min(layer.channels, 2), size, layer.kernel, layer.stride, layer.padding,
                          min(layer.filters, 2))
    if layer.is_convolution:
        size = tuple(max(28, k) for k in layer.kernel) if layer.spatial == 2 else (max(28, layer.kernel[0]),)
        realistic = make_layer(layer.kind, 1, 1, size, layer.kernel, layer.stride, layer.padding, 8)
    else:
        realistic = make_layer(layer.kind, 2, 3, tuple(max(8, k) for k in layer.kernel), layer.kernel, layer.stride)
    return tiny, realistic


# ------------------------------------------------------------------------------ derive


def write_layer_derivation(layer, folder: Path, formats: tuple[str, ...]):
    """Derives, proves and checks one layer and writes its document; returns (written, proofs, verdict, pdf)."""
    from checks.convolution.check import PAIRS, ROUTE_TITLES, check_layer, default_point
    from derive.writeup.files import write_document
    from derive.convolution.derivation import derive_convolution
    from derive.convolution.matrix_form import find_matrix_forms
    from derive.convolution.proofs import prove_all
    from derive.convolution.writeup import build_document, page_html

    gradients = derive_convolution(layer.kind)
    proofs = prove_all(gradients, *proof_layers(layer))
    verdict = check_layer(default_point(layer))
    forms = find_matrix_forms(layer.is_convolution)
    # shown as "< bound": the figures vary across machines, the file must not
    document = build_document(gradients, layer, forms, proofs, verdict, ROUTE_TITLES, PAIRS, (-12, -8, -8))
    written, pdf = write_document(folder, document, formats,
                                  lambda: page_html(document, layer.is_convolution and layer.spatial == 2))
    return tuple(written), proofs, verdict, pdf


def write_network_derivation(net, folder: Path, formats: tuple[str, ...]):
    """The network's document (chain of derived pieces, three-route numbers); returns (written, verdict, pdf)."""
    from checks.convolution.check import PAIRS, ROUTE_TITLES
    from checks.convolution.network_check import check_network, default_network_point
    from derive.writeup.files import write_document
    from derive.convolution.network_writeup import build_network_document
    from derive.writeup.html import page_html

    verdict = check_network(default_network_point(net))
    document = build_network_document(net, verdict, ROUTE_TITLES, PAIRS, (-12, -8, -8))
    written, pdf = write_document(folder, document, formats, lambda: page_html(document))
    return tuple(written), verdict, pdf


def run_derive(args: argparse.Namespace) -> int:
    from derive.writeup import output_files
    from derive.cli.derive import parse_formats
    from derive.writeup.files import FORMATS
    from derive.writeup.output_files import OutputError, check_name, check_writable_folder

    network = network_from_args(args) if args.layer == NETWORK else None
    layer = layer_from_args(args) if network is None else None
    formats = parse_formats(args.formats if args.formats is not None else ",".join(FORMATS))
    if args.formats is not None and "pdf" in formats and output_files.tex_engine() is None:
        raise OutputError(f"--formats pdf needs {output_files.TEX_ENGINE}, which is not on PATH")
    name = check_name(args.name if args.name is not None else args.layer)
    folder = check_writable_folder(Path(args.out) / name, f"{STEM}.tex")
    if network is not None:
        written, verdict, pdf = write_network_derivation(network, folder, formats)
        print(f"{NETWORK}: the backward pass chained from derived pieces; derived, hand-written and finite "
              f"differences {'agree' if verdict.agree else 'DISAGREE'}")
        if written:
            print(f"  wrote: {', '.join(str(folder / p.name) for p in written)}")
        return EXIT_OK if verdict.agree and not (pdf is not None and pdf.failed) else EXIT_FAILED_CHECK
    written, proofs, verdict, pdf = write_layer_derivation(layer, folder, formats)
    from checks.convolution.check import describe_layer

    what = "dX, dW, db" if layer.is_convolution else "dX"
    return derive_summary(f"{describe_layer(layer)}: {what} found from the forward pass", proofs, verdict, pdf,
                          written, folder)


# ------------------------------------------------------------------------------ check


def read_point(path: str, layer):
    """x, dout (and w, b for a convolution) from a JSON file; the layer's sizes come from the arrays.

    Raises:
        ConvolutionInputError: a missing or unreadable file, a missing array, channels that do not match.
    """
    from checks.convolution.check import Point
    from derive.convolution.layer import ConvolutionInputError, make_layer

    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConvolutionInputError(f"--data {path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConvolutionInputError(f"--data {path}: not a JSON file ({error})") from None
    names = ("x", "w", "b", "dout") if layer.is_convolution else ("x", "dout")
    if not isinstance(data, dict) or any(n not in data for n in names):
        raise ConvolutionInputError(f"--data {path}: expected an object with {', '.join(names)}")
    try:
        arrays = {n: np.asarray(data[n], dtype=float) for n in names}
    except (TypeError, ValueError):
        raise ConvolutionInputError(f"--data {path}: {', '.join(names)} must be arrays of numbers") from None
    for name, array in arrays.items():
        if not np.all(np.isfinite(array)):
            raise ConvolutionInputError(f"--data {path}: {name} has a value that is not a finite number")
    x = arrays["x"]
    if x.ndim != 2 + layer.spatial:
        raise ConvolutionInputError(f"--data {path}: x has {x.ndim} axes, {2 + layer.spatial} expected (N x C x ...)")
    if layer.is_convolution:
        w = arrays["w"]
        if w.ndim != x.ndim:
            raise ConvolutionInputError(f"--data {path}: w has {w.ndim} axes, {x.ndim} expected (F x C x ...)")
        fitted = make_layer(layer.kind, x.shape[0], x.shape[1], x.shape[2:], w.shape[2:], layer.stride, layer.padding,
                            w.shape[0], layer.exact, weight_channels=w.shape[1])
        if arrays["b"].shape != (w.shape[0],):
            raise ConvolutionInputError(f"--data {path}: b has shape {arrays['b'].shape}, expected ({w.shape[0]},)")
    else:
        fitted = make_layer(layer.kind, x.shape[0], x.shape[1], x.shape[2:], layer.kernel, layer.stride, 0, 1,
                            layer.exact)
    if arrays["dout"].shape != fitted.output_shape:
        raise ConvolutionInputError(f"--data {path}: dout has shape {arrays['dout'].shape}, the layer's output is "
                                    f"{fitted.output_shape}")
    return Point(fitted, x, arrays["dout"], arrays.get("w"), arrays.get("b"), f"the arrays of {path}")


NETWORK = "convnet"  # conv -> relu -> maxpool -> dense -> softmax with cross-entropy on a tiny image


def network_from_args(args: argparse.Namespace):
    """The small conv network; --size, --channels, --filters, --kernel, -N set its sizes."""
    from derive.convolution.network import make_network

    for given, flag in ((args.conv_stride, "--stride"), (args.conv_padding, "--padding"),
                        (getattr(args, "data", None), "--data")):
        if given is not None:
            raise LayerOptionError(f"{flag} does not go with --layer {NETWORK}: stride 1, the padding that keeps the "
                                   "size, and a seeded point")
    size = 6 if args.conv_size is None else _axes(args.conv_size, 1, "--size")[0]
    kernel = 3 if args.conv_kernel is None else _axes(args.conv_kernel, 1, "--kernel")[0]
    values = {"batch": args.layer_examples or 2, "channels": args.conv_channels or 1, "filters": args.conv_filters or 2}
    if min(values.values()) < 1 or kernel < 1 or size < 2:
        raise LayerOptionError(f"--layer {NETWORK}: sizes must be at least 1 and the image at least 2 x 2")
    if kernel % 2 == 0 or kernel > size:
        raise LayerOptionError(f"--layer {NETWORK}: the kernel must be odd (so padding keeps the size) and at most "
                               f"the image, got {kernel} on {size} x {size}")
    return make_network(values["batch"], values["channels"], size, values["filters"], kernel)


def run_network_check(args: argparse.Namespace) -> int:
    from checks.convolution.network_check import check_network, default_network_point, network_verdict_text

    point = default_network_point(network_from_args(args), args.seed)
    verdict = check_network(point)
    sys.stdout.write(network_verdict_text(point, verdict))
    return EXIT_OK if verdict.agree else EXIT_FAILED_CHECK


def run_check(args: argparse.Namespace) -> int:
    from checks.convolution.check import check_layer, default_point, verdict_text

    if args.layer == NETWORK:
        return run_network_check(args)
    if getattr(args, "params", None) is not None:
        raise LayerOptionError("--params is for a network; with --layer give the point with --data FILE.json")
    layer = layer_from_args(args)
    point = read_point(args.data, layer) if args.data is not None else default_point(layer, args.seed)
    verdict = check_layer(point)
    sys.stdout.write(verdict_text(verdict))
    return EXIT_OK if verdict.agree else EXIT_FAILED_CHECK


# ------------------------------------------------------------------------------ verify


def run_verify(args: argparse.Namespace) -> int:
    if args.layer == NETWORK:
        raise LayerOptionError(f"backprop verify has no --layer {NETWORK}: verify one layer's backward")
    from checks.convolution.verify import DEFAULT_TIMEOUT, DEFAULT_TOLERANCE, verify_function
    from derive.cli.verify import load_function

    settings = verify_settings(args, DEFAULT_TOLERANCE, DEFAULT_TIMEOUT)
    fn, label = load_function(args.target)
    verdict = verify_function(fn, args.layer, points=settings.points, seed=settings.seed,
                              tolerance=settings.tolerance, name=label, timeout=settings.timeout)
    print(verdict.text())
    return EXIT_OK if verdict.passed else EXIT_FAILED_CHECK


def write_golden(name: str, folder: Path, formats: tuple[str, ...]) -> LayerWriteUp:
    """The golden write-up of `name` at its default sizes (tools/refresh_golden.py)."""
    args = argparse.Namespace(layer=name, layer_examples=None, conv_channels=None, conv_filters=None, conv_stride=None,
                              conv_padding=None, conv_size=None, conv_kernel=None, exact_fit=False, data=None)
    if name == NETWORK:
        written, verdict, pdf = write_network_derivation(network_from_args(args), folder, formats)
        summary = () if pdf is None or any(p.suffix == ".pdf" for p in written) else (pdf.message,)
        return LayerWriteUp(tuple(written), summary, verdict.agree)
    written, proofs, verdict, pdf = write_layer_derivation(layer_from_args(args), folder, formats)
    summary = () if pdf is None or any(p.suffix == ".pdf" for p in written) else (pdf.message,)
    return LayerWriteUp(tuple(written), summary, all(p.holds for p in proofs) and verdict.agree)


_SHAPES = ("derive", "check")
FAMILY = LayerFamily(
    names=tuple(DEFAULTS) + (NETWORK,),
    summary="convolution and pooling",
    options=(
        # shared with the normalisation family: the same dest, the same meaning (examples in the batch)
        LayerOption(("-N",), "layer_examples", "with --layer: examples in the batch", type=int, metavar="N",
                    commands=_SHAPES),
        LayerOption(("--kernel",), "conv_kernel", "with --layer conv2d|conv1d|maxpool|avgpool: kernel or pooling "
                    "window, K or KHxKW", type=parse_size, metavar="KHxKW", commands=_SHAPES),
        LayerOption(("--stride",), "conv_stride", "with --layer conv2d|...: stride (default 1; pooling 2)", type=int,
                    commands=_SHAPES),
        LayerOption(("--padding",), "conv_padding", "with --layer conv2d|conv1d: zero padding (default 1)", type=int,
                    commands=_SHAPES),
        LayerOption(("--filters",), "conv_filters", "with --layer conv2d|conv1d: filters F (default 2)", type=int,
                    commands=_SHAPES),
        LayerOption(("--channels",), "conv_channels", "with --layer conv2d|...: input channels C (default 1)",
                    type=int, commands=_SHAPES),
        LayerOption(("--size",), "conv_size", "with --layer conv2d|...: input size, L or HxW (default 5x5)",
                    type=parse_size, metavar="HxW", commands=_SHAPES),
        LayerOption(("--exact-fit",), "exact_fit", "with --layer conv2d|...: refuse a stride that leaves input "
                    "rows unused", flag=True, commands=_SHAPES),
    ),
    derive=run_derive, check=run_check, verify=run_verify,
    goldens=(("conv2d", "conv2d"), ("conv1d", "conv1d"), ("maxpool", "maxpool"), ("avgpool", "avgpool"),
             ("convnet", "convnet")),
    write_golden=write_golden,
)
