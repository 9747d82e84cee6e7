"""Helpers shared by the mixture priors."""

import math
import numbers

from keras import ops

from kvae import elbo
from kvae import model_args


def check_num_components(num_components):
    if (
        not isinstance(num_components, numbers.Integral)
        or isinstance(num_components, bool)
        or num_components < 1
    ):
        raise ValueError(
            f"`num_components` must be a positive int, got {num_components!r}."
        )
    return int(num_components)


def check_seed(seed):
    """`None` or an int >= 0 (the initializers' seed)."""
    if seed is not None:
        model_args.check_int("seed", seed, 0)
    return seed


def check_pseudo_input_shape(shape):
    """`None` or a tuple of positive ints, the shape of one image."""
    if shape is None:
        return None
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__iter__"):
        raise TypeError(
            "`pseudo_input_shape` must be the shape of one image, a tuple "
            f"of ints such as (28, 28, 1), or None; got {shape!r} "
            f"({type(shape).__name__})."
        )
    shape = tuple(shape)
    if not shape or not all(model_args.is_int(s) and s >= 1 for s in shape):
        raise ValueError(
            "`pseudo_input_shape` must be the shape of one image, positive "
            f"ints such as (28, 28, 1), or None; got {shape!r}."
        )
    return tuple(int(s) for s in shape)


def check_clip_range(clip_range):
    """`None` or a pair `(low, high)` of finite numbers, low < high."""
    if clip_range is None:
        return None
    if (
        isinstance(clip_range, (str, bytes))
        or not hasattr(clip_range, "__len__")
        or len(clip_range) != 2
        or not all(
            model_args.is_number(c)
            and not isinstance(c, bool)
            and math.isfinite(c)
            for c in clip_range
        )
        or not clip_range[0] < clip_range[1]
    ):
        raise ValueError(
            "`clip_range` must be a pair (low, high) of finite numbers with "
            f"low < high, such as (0.0, 1.0), or None; got {clip_range!r}."
        )
    return tuple(float(c) for c in clip_range)


def mixture_log_prob(z, means, log_vars, log_weights):
    """`log sum_k w_k N(z; means_k, exp(log_vars_k))` over the last axis.

    `z` is `(..., d)`, `means` and `log_vars` `(K, d)`, `log_weights`
    `(K,)` (log-probabilities that sum to one). Returns `(...)`.
    """
    per_component = elbo.gaussian_log_prob(
        ops.expand_dims(z, -2), means, log_vars
    )
    return ops.logsumexp(per_component + log_weights, axis=-1)
