"""A workaround for Keras 3.15's torch convolution, in one place.

Keras 3.15's torch `conv` takes a channels-last (NHWC) input, permutes it
to NCHW and copies it (`.contiguous()`), then copies it back to torch's
channels-last memory format for the convolution: two full copies of every
convolution's input, forward and backward (keras-team/keras issue 23279,
fixed upstream by pull request 23199, not in a 3.15 release). A permuted
NHWC tensor already *is* an NCHW tensor in channels-last memory, so the
copies buy nothing.

Under torch, with a Keras version in `AFFECTED_KERAS`, importing kvae
replaces Keras's torch `conv` with `conv` below for 2D channels-last
inputs; every other call goes to Keras's own function. It computes the
same thing with the same torch kernel, and gives bit-identical outputs and
gradients (tests/backend/test_torch_conv.py). On this project's 2-core CPU
it made the conv VAE's training step 1.38x as fast (docs/backends.md).
It applies to every Keras model in the process, kvae's or not. When Keras
ships the fix, drop 3.15 from `AFFECTED_KERAS` and delete this file.
"""

import keras
import torch
from keras.src.backend.torch import nn as keras_torch_nn

from kvae.backend.versions import major_minor

# (major, minor) of the Keras releases with the copies, measured to gain.
AFFECTED_KERAS = ((3, 15),)
_KERAS_CONV = keras_torch_nn.conv


def affected(keras_version):
    """Whether `keras_version` (e.g. `"3.15.1"`) gets the workaround."""
    return major_minor(keras_version) in AFFECTED_KERAS


def conv(
    inputs,
    kernel,
    strides=1,
    padding="valid",
    data_format=None,
    dilation_rate=1,
):
    """Keras's torch `conv`, without the two copies for 2D channels-last."""
    data_format = keras_torch_nn.backend.standardize_data_format(data_format)
    inputs = keras_torch_nn.convert_to_tensor(inputs)
    if data_format != "channels_last" or inputs.ndim != 4:
        return _KERAS_CONV(
            inputs, kernel, strides, padding, data_format, dilation_rate
        )
    kernel = keras_torch_nn.convert_to_tensor(kernel)
    strides = keras_torch_nn.standardize_tuple(strides, 2, "strides")
    # NHWC -> NCHW as a view: channels-last memory, no copy.
    x = torch.permute(inputs, (0, 3, 1, 2))
    # HWIO -> OIHW; the kernel is small, so this copy costs nothing.
    kernel = torch.permute(kernel, (3, 2, 0, 1)).contiguous(
        memory_format=torch.channels_last
    )
    groups = x.shape[1] // kernel.shape[1]
    torch_padding = 0
    if padding == "same":
        x, torch_padding = keras_torch_nn._apply_same_padding(
            x, kernel.shape[2:], strides, data_format, "conv", dilation_rate
        )
    outputs = torch.nn.functional.conv2d(
        x,
        kernel,
        stride=strides,
        padding=torch_padding,
        dilation=dilation_rate,
        groups=groups,
    )
    return torch.permute(outputs, (0, 2, 3, 1))


def apply():
    """Installs `conv` in Keras's torch backend where Keras has the copies.

    Returns:
        bool: whether it was installed.
    """
    if not affected(keras.__version__):
        return False
    keras_torch_nn.conv = conv
    return True
