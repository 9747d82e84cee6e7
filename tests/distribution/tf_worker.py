"""kvae under `tf.distribute.MirroredStrategy`, for
`test_distribution_tensorflow.py`.

The CPU is split into 2 logical devices before TensorFlow starts, so this
runs in a fresh process:

    KERAS_BACKEND=tensorflow python -m tests.distribution.tf_worker OUT_DIR

It trains the same model from the same weights, data and injected `eps`
on one device and with `MirroredStrategy` on two, saves the mirrored model
and loads it back outside the strategy, and writes `OUT_DIR/tf.npz`.
"""

import os
import sys

import tensorflow as tf

_CPU = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    _CPU, [tf.config.LogicalDeviceConfiguration()] * 2
)

import keras  # noqa: E402
import numpy as np  # noqa: E402

import kvae  # noqa: E402
import kvae.callbacks  # noqa: E402
import kvae.distribution  # noqa: E402

LATENT, BATCH, STEPS, REPLICAS = 3, 16, 4, 2
SHAPE = (28, 28, 1)
# Each replica's own copy of what it drew last, under the strategy.
RECORD = {}


@keras.saving.register_keras_serializable(package="kvae_tests")
class FixedNoiseVAE(kvae.VAE):
    """Trains on fixed per-image `eps`: image `i` of the global batch gets
    row `i`, whichever replica holds it. The default `eps` is still drawn,
    and recorded per replica."""

    def draw_eps(self, z_mean):
        drawn = super().draw_eps(z_mean)
        context = tf.distribute.get_replica_context()
        if "eps" in RECORD and context.num_replicas_in_sync == REPLICAS:
            RECORD["eps"].assign(drawn)
        rng = np.random.default_rng(1)
        fixed = rng.standard_normal((BATCH, LATENT)).astype("float32")
        local = tf.shape(z_mean)[0]
        start = context.replica_id_in_sync_group * local
        return tf.slice(fixed, [start, 0], [local, LATENT])


def images(n=BATCH * STEPS // 2, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random((n,) + SHAPE) < 0.3).astype("float32")


def make_model():
    model = FixedNoiseVAE(
        kvae.layers.ConvEncoder(LATENT, filters=(4, 8), dense_units=16),
        kvae.layers.ConvDecoder(SHAPE, filters=(8, 4), dense_units=16),
        seed=0,
    )
    model.compile(optimizer=keras.optimizers.SGD(1e-3))
    return model


def set_weights(model):
    """The same starting weights on one device and on two."""
    model.build((None,) + SHAPE)
    rng = np.random.default_rng(0)
    for v in sorted(model.trainable_variables, key=lambda v: v.path):
        v.assign((0.1 * rng.standard_normal(v.shape)).astype("float32"))


class StepLogs(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.logs = []

    def on_train_batch_end(self, batch, logs=None):
        self.logs.append(dict(logs))


def train(model, x, prefix, callbacks=()):
    steps = StepLogs()
    history = model.fit(
        x,
        batch_size=BATCH,
        epochs=2,
        shuffle=False,
        verbose=0,
        callbacks=[steps, *callbacks],
    )
    out = {}
    for key, values in history.history.items():
        out[f"{prefix}/epoch/{key}"] = np.asarray(values)
    for key in steps.logs[0]:
        out[f"{prefix}/step/{key}"] = np.asarray([s[key] for s in steps.logs])
    for v in model.trainable_variables:
        out[f"{prefix}/weight/{v.path}"] = keras.ops.convert_to_numpy(v)
    out[f"{prefix}/evaluate_loss"] = model.evaluate(
        x, batch_size=BATCH, verbose=0, return_dict=True
    )["loss"]
    return out


def main(out_dir):
    x = images()
    keras.utils.clear_session()
    model = make_model()
    set_weights(model)
    out = train(model, x, "single")

    keras.utils.clear_session()
    strategy = kvae.distribution.data_parallel()
    with strategy.scope():
        RECORD["eps"] = tf.Variable(
            tf.zeros((BATCH // REPLICAS, LATENT)),
            synchronization=tf.VariableSynchronization.ON_READ,
            aggregation=tf.VariableAggregation.SUM,
        )
        model = make_model()
    # Built outside the scope, as `fit` would build it.
    set_weights(model)
    out["mirrored/num_replicas"] = kvae.distribution.num_replicas(strategy)
    out["mirrored/all_mirrored"] = all(
        strategy.extended.variable_created_in_scope(v.value)
        for v in model.variables
    )
    gif = kvae.callbacks.SampleGIF(os.path.join(out_dir, "gif"), grid_size=2)
    out.update(train(model, x, "mirrored", [gif]))
    out["mirrored/replica_eps"] = np.stack(
        [r.numpy() for r in strategy.experimental_local_results(RECORD["eps"])]
    )
    seeds = strategy.experimental_local_results(
        model.seed_generator.state.value
    )
    out["mirrored/seed_states"] = np.stack([s.numpy() for s in seeds])
    out["mirrored/reconstruct"] = keras.ops.convert_to_numpy(
        model.reconstruct(x)
    )
    path = os.path.join(out_dir, "mirrored.keras")
    model.save(path)

    keras.utils.clear_session()
    loaded = keras.saving.load_model(path)
    out["loaded/reconstruct"] = keras.ops.convert_to_numpy(
        loaded.reconstruct(x)
    )
    out["loaded/in_strategy"] = any(
        isinstance(v.value, tf.distribute.DistributedValues)
        for v in loaded.variables
    )
    np.savez(os.path.join(out_dir, "tf.npz"), **out)


if __name__ == "__main__":
    main(sys.argv[1])
