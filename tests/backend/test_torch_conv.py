"""The torch convolution workaround (`kvae/backend/torch_conv.py`)."""

import keras
import numpy as np
import pytest

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "torch", reason="a torch-backend workaround"
)

CASES = [
    # kernel, strides, padding, dilation, groups, input shape
    (3, 1, "same", 1, 1, (3, 9, 9, 4)),
    (3, 2, "same", 1, 1, (3, 14, 14, 4)),  # asymmetric "same" padding
    (2, 1, "same", 1, 1, (3, 7, 7, 6)),  # kvae's sub-pixel kernels
    (3, 2, "valid", 1, 1, (3, 11, 10, 4)),
    (3, 1, "same", 2, 1, (3, 12, 12, 4)),
    (3, 1, "same", 1, 2, (3, 8, 8, 4)),
    (1, 1, "valid", 1, 1, (2, 5, 5, 3)),
]


def test_installed_for_the_keras_versions_with_the_copies():
    from keras.src.backend.torch import nn as keras_torch_nn

    from kvae.backend import torch_conv

    assert torch_conv.affected("3.15.1")
    assert not torch_conv.affected("3.16.0")
    installed = keras_torch_nn.conv is torch_conv.conv
    assert installed == torch_conv.affected(keras.__version__)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
@pytest.mark.parametrize("case", CASES)
def test_same_outputs_and_gradients_as_keras(case, dtype):
    import torch

    from kvae.backend import torch_conv

    kernel_size, strides, padding, dilation, groups, shape = case
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype("float32")
    w = rng.standard_normal(
        (kernel_size, kernel_size, shape[-1] // groups, 8)
    ).astype("float32")

    def run(conv):
        xt = torch.tensor(x, dtype=getattr(torch, dtype), requires_grad=True)
        wt = torch.tensor(w, dtype=getattr(torch, dtype), requires_grad=True)
        y = conv(xt, wt, strides, padding, "channels_last", dilation)
        (y.float() ** 2).sum().backward()
        return [t.detach().float().numpy() for t in (y, xt.grad, wt.grad)]

    ours = run(torch_conv.conv)
    theirs = run(torch_conv._KERAS_CONV)
    for a, b in zip(ours, theirs):
        assert a.shape == b.shape
        np.testing.assert_array_equal(a, b)


def test_channels_first_and_1d_go_to_keras():
    from kvae.backend import torch_conv

    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 4, 9, 9)).astype("float32")
    w = rng.standard_normal((3, 3, 4, 5)).astype("float32")
    ours = torch_conv.conv(x, w, 1, "same", "channels_first")
    theirs = torch_conv._KERAS_CONV(x, w, 1, "same", "channels_first")
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(ours), keras.ops.convert_to_numpy(theirs)
    )
    x1 = rng.standard_normal((2, 9, 4)).astype("float32")
    w1 = rng.standard_normal((3, 4, 5)).astype("float32")
    assert tuple(torch_conv.conv(x1, w1, 1, "same").shape) == (2, 9, 5)
