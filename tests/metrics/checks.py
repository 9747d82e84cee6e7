"""Checks every image metric passes, called by each metric's tests with
its own images and reference values."""

import keras
import numpy as np


def check_inside_compiled_evaluate(metric, x, y, expected, atol=1e-3):
    """`metric` inside `model.evaluate`, the backend's compiled step (a
    jitted stateless step on JAX, tf.function on TensorFlow), gives
    `expected` for predictions `y` of targets `x`."""
    model = keras.Sequential(
        [keras.Input(x.shape[1:]), keras.layers.Identity()]
    )
    model.compile(loss="mse", metrics=[metric])
    logs = model.evaluate(y, x, batch_size=16, verbose=0, return_dict=True)
    np.testing.assert_allclose(logs[metric.name], expected, atol=atol)


def check_stateless_update(metric, x, y, expected, atol=1e-3):
    """How kvae.VAE updates a metric under JAX: a pure function of the
    metric's variables, inside jax.jit (elsewhere the same call runs
    eagerly). Two batches give `expected`; the metric itself is untouched."""
    update = metric.stateless_update_state
    if keras.backend.backend() == "jax":
        import jax

        update = jax.jit(update)
    half = len(x) * 2 // 3
    state = [v.value for v in metric.variables]
    state = update(state, x[:half], y[:half])
    state = update(state, x[half:], y[half:])
    np.testing.assert_allclose(
        float(metric.stateless_result(state)), expected, atol=atol
    )
    assert float(metric.result()) == 0.0
