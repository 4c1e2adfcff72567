"""One convolution or pooling layer at concrete sizes, and the input it refuses.

Layout NCHW (cs231n, PyTorch): the input is N x C x H x W (N x C x L in 1-D), a convolution has F
filters of C x KH x KW and one bias per filter, a pooling window KH x KW runs over each channel.
The output has (H + 2p - KH) // s + 1 rows (the same along W); with `exact` the layer refuses a
stride that leaves input rows unused, as PyTorch's docs call a fit "exact".
"""

from __future__ import annotations

from dataclasses import dataclass

KINDS = ("conv2d", "conv1d", "maxpool", "avgpool")
CONVOLUTIONS = ("conv2d", "conv1d")


class ConvolutionInputError(ValueError):
    """A layer that does not fit its input: one line for the user, exit code 2."""


class KernelTooLargeError(ConvolutionInputError):
    """The kernel is larger than the padded input."""


class StrideFitError(ConvolutionInputError):
    """The stride does not fit the padded input exactly, and the layer requires it."""


class ChannelMismatchError(ConvolutionInputError):
    """The input's channels are not the filters' channels."""


class WindowError(ConvolutionInputError):
    """A size of 0 (or less): a pooling window, a stride, a channel count."""


@dataclass(frozen=True)
class ConvolutionLayer:
    """kind, the sizes of the input and of the kernel, stride and zero padding (pooling: p = 0)."""

    kind: str
    batch: int
    channels: int
    size: tuple[int, ...]  # (H, W), or (L,) for conv1d
    kernel: tuple[int, ...]
    stride: int = 1
    padding: int = 0
    filters: int = 1  # pooling keeps the channels: F = C
    exact: bool = False

    @property
    def spatial(self) -> int:
        return len(self.size)

    @property
    def is_convolution(self) -> bool:
        return self.kind in CONVOLUTIONS

    @property
    def out_channels(self) -> int:
        return self.filters if self.is_convolution else self.channels

    @property
    def out_size(self) -> tuple[int, ...]:
        return tuple((h + 2 * self.padding - k) // self.stride + 1 for h, k in zip(self.size, self.kernel))

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (self.batch, self.channels) + self.size

    @property
    def weight_shape(self) -> tuple[int, ...]:
        return (self.filters, self.channels) + self.kernel

    @property
    def output_shape(self) -> tuple[int, ...]:
        return (self.batch, self.out_channels) + self.out_size


def make_layer(kind: str, batch: int, channels: int, size: tuple[int, ...], kernel: tuple[int, ...], stride: int = 1,
               padding: int = 0, filters: int = 1, exact: bool = False,
               weight_channels: int | None = None) -> ConvolutionLayer:
    """A checked layer. weight_channels: the filters' channel count when it comes from elsewhere
    (a weight file, a network), refused unless it equals the input's.

    Raises:
        ConvolutionInputError (one of its subclasses): the layer does not fit its input.
    """
    if kind not in KINDS:
        raise ConvolutionInputError(f"unknown layer {kind!r}: the convolution layers are {', '.join(KINDS)}")
    if len(size) != len(kernel):
        raise ConvolutionInputError(f"--size has {len(size)} axes but --kernel has {len(kernel)}")
    if any(k < 1 for k in kernel):
        what = "pooling window" if kind in ("maxpool", "avgpool") else "kernel"
        raise WindowError(f"the {what} must be at least 1 along each axis, got {'x'.join(map(str, kernel))}")
    for name, value in (("batch", batch), ("--channels", channels), ("--filters", filters), ("--stride", stride)):
        if value < 1:
            raise WindowError(f"{name} must be at least 1, got {value}")
    if any(h < 1 for h in size):
        raise WindowError(f"--size must be at least 1 along each axis, got {'x'.join(map(str, size))}")
    if padding < 0:
        raise ConvolutionInputError(f"--padding must be 0 or more, got {padding}")
    if kind in ("maxpool", "avgpool") and padding:
        raise ConvolutionInputError("pooling here has no padding: give --padding 0")
    if weight_channels is not None and weight_channels != channels:
        raise ChannelMismatchError(f"the input has {channels} channels but the filters have {weight_channels}")
    for h, k in zip(size, kernel):
        if k > h + 2 * padding:
            raise KernelTooLargeError(f"the kernel ({'x'.join(map(str, kernel))}) is larger than the padded input "
                                      f"({'x'.join(str(h + 2 * padding) for h in size)})")
        if exact and (h + 2 * padding - k) % stride:
            raise StrideFitError(f"stride {stride} does not fit exactly: (size {h} + 2 x padding {padding} - kernel "
                                 f"{k}) = {h + 2 * padding - k} is not a multiple of {stride}")
    return ConvolutionLayer(kind, batch, channels, tuple(size), tuple(kernel), stride, padding,
                            filters if kind in CONVOLUTIONS else channels, exact)
