"""kvae under `keras.distribution` on JAX, for `test_distribution_jax.py`.

The device count is fixed when JAX starts, so each mode is its own process:

    XLA_FLAGS=--xla_force_host_platform_device_count=4 KERAS_BACKEND=jax \\
        python -m tests.distribution.jax_worker multi OUT_DIR
    KERAS_BACKEND=jax python -m tests.distribution.jax_worker single OUT_DIR

Both modes train the same models from the same weights, data and injected
`eps`: `multi` with `DataParallel` on 4 devices and `ModelParallel` on a
2x2 mesh, `single` without a distribution on one device. Each writes
`OUT_DIR/<mode>.npz`; `multi` also saves its data-parallel model as
`OUT_DIR/dp.keras`, for the test to load on one device.
"""

import os
import sys

import jax
import keras
import numpy as np
from keras.src.initializers.random_initializers import RandomInitializer

import kvae
import kvae.callbacks
import kvae.distribution

LATENT, BATCH, STEPS = 3, 16, 4
CONV_SHAPE, RESIDUAL_SHAPE = (28, 28, 1), (8, 8, 1)

# What the jitted train step saw, collected through JAX debug callbacks.
SEEN = {"z_mean_sharding": [], "eps_shards": [], "eps": []}


@keras.saving.register_keras_serializable(package="kvae_tests")
class FixedNoiseVAE(kvae.VAE):
    """Trains on fixed `eps`, identical for any number of devices; still
    draws the default `eps` and records it, and how it is sharded."""

    def draw_eps(self, z_mean):
        drawn = super().draw_eps(z_mean)
        jax.debug.inspect_array_sharding(
            z_mean, callback=SEEN["z_mean_sharding"].append
        )
        jax.debug.callback(SEEN["eps_shards"].append, drawn, partitioned=True)
        jax.debug.callback(SEEN["eps"].append, drawn)
        rng = np.random.default_rng(1)
        fixed = rng.standard_normal((BATCH, LATENT)).astype("float32")
        fixed = keras.ops.convert_to_tensor(fixed[: z_mean.shape[0]])
        # Keep the draw in the graph, so it is laid out as it would be used.
        return fixed + 0.0 * drawn


def images(shape, n=BATCH * STEPS // 2, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random((n,) + shape) < 0.3).astype("float32")


def conv_vae():
    return FixedNoiseVAE(
        kvae.layers.ConvEncoder(LATENT, filters=(4, 8), dense_units=16),
        kvae.layers.ConvDecoder(CONV_SHAPE, filters=(8, 4), dense_units=16),
        seed=0,
    )


def residual_vae():
    # The residual decoder is what ModelParallel splits; the encoder is kept
    # small, as compiling is most of this test's time.
    return FixedNoiseVAE(
        kvae.layers.MLPEncoder(LATENT, hidden_units=(16,)),
        kvae.layers.ResidualDecoder(RESIDUAL_SHAPE, filters=(8, 4)),
        likelihood="gaussian",
        image_metrics=False,
        seed=0,
    )


def set_weights(model, shape):
    """The same starting weights in every process, whatever the layout.

    The random initializers are swapped for zeros first: the weights are
    overwritten anyway, and JAX would compile a random-number program for
    every weight shape, which took most of this test's time.
    """
    for layer in model._flatten_layers():
        for name, value in list(vars(layer).items()):
            if isinstance(value, RandomInitializer):
                setattr(layer, name, keras.initializers.Zeros())
    model.build((None,) + shape)
    rng = np.random.default_rng(0)
    for v in sorted(model.trainable_variables, key=lambda v: v.path):
        v.assign((0.1 * rng.standard_normal(v.shape)).astype("float32"))


class StepLogs(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.logs = []

    def on_train_batch_end(self, batch, logs=None):
        self.logs.append(dict(logs))


def train(model, x, prefix, callbacks=(), evaluate=False):
    """Fits `model` for 2 epochs of 2 steps; returns arrays to compare."""
    steps = StepLogs()
    # SGD: no optimizer variables to make, and the weights after a few
    # steps compare well (Adam's first steps amplify rounding).
    model.compile(optimizer=keras.optimizers.SGD(1e-3))
    history = model.fit(
        x,
        batch_size=BATCH,
        epochs=2,
        shuffle=False,
        verbose=0,
        callbacks=[steps, *callbacks],
    )
    jax.effects_barrier()
    out = {}
    for key, values in history.history.items():
        out[f"{prefix}/epoch/{key}"] = np.asarray(values)
    for key in steps.logs[0]:
        out[f"{prefix}/step/{key}"] = np.asarray([s[key] for s in steps.logs])
    for v in model.trainable_variables:
        out[f"{prefix}/weight/{v.path}"] = keras.ops.convert_to_numpy(v)
    if evaluate:
        out[f"{prefix}/evaluate_loss"] = model.evaluate(
            x, batch_size=BATCH, verbose=0, return_dict=True
        )["loss"]
    return out


def spec(sharding):
    """The layout as a plain tuple, e.g. `('batch',)`."""
    return repr(tuple(getattr(sharding, "spec", ())))


def run_multi(out_dir):
    assert jax.device_count() == 4, jax.devices()
    out = {}

    keras.utils.clear_session()  # also clears any distribution
    distribution = kvae.distribution.data_parallel()
    model = conv_vae()
    set_weights(model, CONV_SHAPE)
    gif = kvae.callbacks.SampleGIF(os.path.join(out_dir, "gif"), grid_size=2)
    x = images(CONV_SHAPE)
    out.update(train(model, x, "dp", [gif], evaluate=True))
    out["dp/reconstruct"] = keras.ops.convert_to_numpy(model.reconstruct(x))
    out["dp/num_replicas"] = kvae.distribution.num_replicas(distribution)
    out["dp/z_mean_spec"] = spec(SEEN["z_mean_sharding"][0])
    out["dp/z_mean_devices"] = len(SEEN["z_mean_sharding"][0].device_set)
    out["dp/eps_shards"] = np.stack(SEEN["eps_shards"][:4])
    out["dp/eps"] = np.stack(SEEN["eps"][:STEPS])
    out["dp/kernel_spec"] = spec(model.trainable_variables[0].value.sharding)
    model.save(os.path.join(out_dir, "dp.keras"))

    keras.utils.clear_session()
    distribution = kvae.distribution.model_parallel(model_parallel=2)
    model = residual_vae()
    set_weights(model, RESIDUAL_SHAPE)
    out.update(train(model, images(RESIDUAL_SHAPE), "mp"))
    out["mp/num_replicas"] = kvae.distribution.num_replicas(distribution)
    out["mp/specs"] = np.asarray(
        [
            f"{v.path}|{spec(v.value.sharding)}"
            for v in model.decoder.trainable_variables
        ]
    )
    out["mp/sample"] = keras.ops.convert_to_numpy(model.sample(3))
    np.savez(os.path.join(out_dir, "multi.npz"), **out)


def run_single(out_dir):
    assert jax.device_count() == 1, jax.devices()
    out = {}
    keras.utils.clear_session()
    model = conv_vae()
    set_weights(model, CONV_SHAPE)
    out.update(train(model, images(CONV_SHAPE), "dp", evaluate=True))
    out["dp/eps"] = np.stack(SEEN["eps"][:STEPS])

    keras.utils.clear_session()
    model = residual_vae()
    set_weights(model, RESIDUAL_SHAPE)
    out.update(train(model, images(RESIDUAL_SHAPE), "mp"))
    np.savez(os.path.join(out_dir, "single.npz"), **out)


if __name__ == "__main__":
    mode, out_dir = sys.argv[1], sys.argv[2]
    {"multi": run_multi, "single": run_single}[mode](out_dir)
