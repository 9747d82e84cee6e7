"""`RealNVP`: an affine-coupling normalising flow on vectors (the density
of `kvae.samplers.FlowSampler`).

Written with `keras.ops` so that it trains and draws on TensorFlow, JAX
and PyTorch alike: TensorFlow Probability's and distrax's bijectors each
run on one backend only.
"""

import math

import keras
import numpy as np
from keras import ops


def coupling_masks(dim, num_couplings):
    """The float32 masks `(num_couplings, dim)` of the couplings: 1 where
    a coupling passes its input through unchanged (and conditions on it),
    0 where it transforms it.

    They cycle through four splits, the even/odd dimensions and the
    first/second half, each followed by its complement, so that every
    dimension is transformed given every other within four couplings.
    """
    index = np.arange(dim)
    splits = [index % 2 == 0, index < dim // 2]
    masks = []
    for i in range(num_couplings):
        split = splits[(i // 2) % 2]
        masks.append(split if i % 2 == 0 else ~split)
    return np.stack(masks).astype("float32")


class RealNVP(keras.Model):
    """A stack of affine couplings (Dinh et al., 2017) mapping data `x` to
    noise `z` invertibly, trained by maximum likelihood under `z ~ N(0,
    I)`.

    Each coupling keeps the dimensions of its mask and moves the others:
    `y = m * x + (1 - m) * (x * exp(s) + t)` with `(s, t)` an MLP of
    `m * x`; `s = tanh(.)` bounds each step's log-scale to (-1, 1), and the
    MLP's last layer starts at zero, so the untrained flow is the
    identity. `call(x)` returns `-log p(x)` per row (in nats), the
    loss `fit` minimises; `inverse(z)` maps noise to data.

    Args:
        dim: int. Size of the vectors.
        num_couplings: int. Coupling layers.
        hidden_units: tuple of int. Hidden layers of each coupling's MLP.
        seed: int or `None`. Seed of the initial weights.

    Reference:
    - [Dinh, Sohl-Dickstein and Bengio, 2017](https://arxiv.org/abs/1605.08803)
    """

    def __init__(
        self, dim, num_couplings=8, hidden_units=(256, 256), seed=None, **kwargs
    ):
        super().__init__(**kwargs)
        self.dim = int(dim)
        self.num_couplings = int(num_couplings)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.masks = coupling_masks(self.dim, self.num_couplings)
        self.couplings = [
            self._coupling(None if seed is None else seed + 100 * i)
            for i in range(self.num_couplings)
        ]

    def _coupling(self, seed):
        """One coupling's MLP: `(log-scale, shift)` of all dimensions, its
        last layer zero (the identity to start from)."""
        hidden = [
            keras.layers.Dense(
                units,
                activation="relu",
                kernel_initializer=keras.initializers.GlorotUniform(
                    None if seed is None else seed + j
                ),
            )
            for j, units in enumerate(self.hidden_units)
        ]
        last = keras.layers.Dense(2 * self.dim, kernel_initializer="zeros")
        return keras.Sequential(hidden + [last])

    def build(self, input_shape):
        for coupling in self.couplings:
            coupling.build((None, self.dim))
        self.built = True

    def _scale_shift(self, i, x):
        """Coupling `i`'s `(log-scale, shift)` of rows `x`, computed from
        the dimensions it keeps and zero on them."""
        kept = ops.convert_to_tensor(self.masks[i], dtype=x.dtype)
        out = self.couplings[i](x * kept)
        free = 1.0 - kept
        return ops.tanh(out[:, : self.dim]) * free, out[:, self.dim :] * free

    def to_noise(self, x):
        """`(z, log|det dz/dx|)` of data rows `x`."""
        log_det = ops.zeros((ops.shape(x)[0],), dtype=x.dtype)
        for i in range(self.num_couplings):
            log_scale, shift = self._scale_shift(i, x)
            x = x * ops.exp(log_scale) + shift
            log_det = log_det + ops.sum(log_scale, axis=-1)
        return x, log_det

    def call(self, x):
        z, log_det = self.to_noise(x)
        constant = 0.5 * self.dim * math.log(2.0 * math.pi)
        return 0.5 * ops.sum(ops.square(z), axis=-1) + constant - log_det

    def inverse(self, z):
        """The data rows whose noise is `z` (the flow run backwards)."""
        for i in reversed(range(self.num_couplings)):
            log_scale, shift = self._scale_shift(i, z)
            z = (z - shift) * ops.exp(-log_scale)
        return z


def negative_log_likelihood(y_true, y_pred):
    """The loss `fit` minimises: the flow's own output, `-log p(x)`."""
    del y_true
    return y_pred
