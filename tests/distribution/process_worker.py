"""One process of a multi-process training, for `test_processes_*.py`.

    python -m tests.distribution.process_worker MODE RESULTS_DIR

Started by the tests once alone and once per process of a launch (torch:
torchrun's `RANK`, `WORLD_SIZE`, `MASTER_ADDR`, `MASTER_PORT`).
`kvae.distribution.data_parallel()` finds the launch; alone, it trains on
one device. Every mode trains the same small VAE on the same global
batches, with noise `eps` that is a fixed function of each example (so the
result does not depend on how the batch is split), and writes
`RESULTS_DIR/result<process index>.npz`. Modes:

- `train`: 2 epochs of 2 steps, then `evaluate`; process 0 saves the model
  to `RESULTS_DIR/model.keras`. Then a second model, with a BatchNorm on
  the images and `sigma="optimal"`, trains 4 steps on `scaled_images()`
  in order, and its float non-trainable variables are kept.
- `die`: process 1 kills itself (SIGKILL) after its first step.
- `stall`: process 1 stops itself (SIGSTOP) after its first step.
"""

import os
import signal
import sys

import keras
import numpy as np

import kvae
import kvae.distribution

LATENT, BATCH, STEPS = 3, 16, 4
# Momentum of the BatchNorm of `NormalizedEncoder`.
MOMENTUM = 0.5
# Brightness of the first half of each batch of `scaled_images()`.
DIM = 0.8
# SGD's for `normalized_vae()`: its Gaussian loss is steep.
LEARNING_RATE = 1e-4
SHAPE = (28, 28, 1)


@keras.saving.register_keras_serializable(package="kvae_tests")
class ExampleNoiseVAE(kvae.VAE):
    """Trains on noise that is a fixed function of each example's code;
    still draws the default `eps`, and keeps this process's part of the
    first draw in `drawn` (torch, JAX; TensorFlow: `tensorflow_draw`)."""

    drawn = []

    def draw_eps(self, z_mean):
        drawn = super().draw_eps(z_mean)
        if keras.backend.backend() == "torch" and not self.drawn:
            self.drawn.append(keras.ops.convert_to_numpy(drawn))
        if keras.backend.backend() == "jax":
            import jax

            # This process's slice of the global draw, inside the step.
            jax.debug.callback(self.drawn.append, drawn, partitioned=True)
        offset = keras.ops.arange(z_mean.shape[-1], dtype=z_mean.dtype)
        fixed = keras.ops.sin(10.0 * keras.ops.stop_gradient(z_mean) + offset)
        return fixed + 0.0 * drawn


def images(n=BATCH * STEPS // 2, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random((n,) + SHAPE) < 0.3).astype("float32")


def scaled_images():
    """`images()` whose first half of each batch is dimmer, so that the
    halves' means differ (a large between-process variance)."""
    x = images()
    half = (np.arange(len(x)) % BATCH) < BATCH // 2
    return np.where(half[:, None, None, None], DIM * x, x)


@keras.saving.register_keras_serializable(package="kvae_tests")
class NormalizedEncoder(keras.layers.Layer):
    """A `ConvEncoder` beside a `BatchNormalization` of the images whose
    output counts for nothing: its moving statistics depend on the data
    alone, and its batch statistics (one process's slice) leave the
    rest of the model as it would be in one process."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.norm = keras.layers.BatchNormalization(momentum=MOMENTUM)
        self.encoder = kvae.layers.ConvEncoder(
            LATENT, filters=(4, 8), dense_units=16
        )

    def call(self, x, training=None):
        return self.encoder(x + 0.0 * self.norm(x, training=training))


def normalized_vae():
    return ExampleNoiseVAE(
        NormalizedEncoder(),
        kvae.layers.ConvDecoder(SHAPE, filters=(8, 4), dense_units=16),
        likelihood="gaussian",
        sigma="optimal",
        seed=0,
    )


def vae():
    return ExampleNoiseVAE(
        kvae.layers.ConvEncoder(LATENT, filters=(4, 8), dense_units=16),
        kvae.layers.ConvDecoder(SHAPE, filters=(8, 4), dense_units=16),
        seed=0,
    )


class StepLogs(keras.callbacks.Callback):
    def __init__(self, mode):
        super().__init__()
        self.mode = mode
        self.logs = []

    def on_train_batch_end(self, batch, logs=None):
        self.logs.append({k: float(v) for k, v in logs.items()})
        if self.mode != "train" and kvae.distribution.process_index() == 1:
            print("process 1 stops", flush=True)
            os.kill(
                os.getpid(),
                signal.SIGKILL if self.mode == "die" else signal.SIGSTOP,
            )


def tensorflow_draw(model, strategy):
    """What this process's replica draws for `eps` in a train step."""
    import tensorflow as tf

    from kvae.backend.tensorflow import _replica_noise

    def draw():
        with _replica_noise(model):
            return keras.random.normal(
                (BATCH // 2, LATENT), seed=model.seed_generator
            )

    if strategy is None:
        return keras.ops.convert_to_numpy(draw())
    local = strategy.experimental_local_results(
        tf.function(lambda: strategy.run(draw))()
    )
    return keras.ops.convert_to_numpy(local[0])


def main(mode, results_dir):
    launched = kvae.distribution.launched()
    # On torch kvae shares process 0's seed and weights itself, so each
    # process starts from others there; TF and JAX synchronize the
    # initial values of variables as they are created, not later writes.
    torch = keras.backend.backend() == "torch"
    keras.utils.set_random_seed(int(os.environ.get("RANK", 0)))
    distribution = kvae.distribution.data_parallel() if launched else None
    index = kvae.distribution.process_index()
    model = build(vae, distribution, index if torch else 0)
    steps = StepLogs(mode)
    x = images()
    history = model.fit(
        x,
        batch_size=BATCH,
        epochs=2,
        # On JAX several processes read a tf.data pipeline, which shuffles
        # otherwise than `fit` shuffles arrays.
        shuffle=keras.backend.backend() != "jax",
        verbose=0,
        callbacks=[steps],
    )
    out = {"process_count": kvae.distribution.process_count()}
    for key, values in history.history.items():
        out[f"epoch/{key}"] = np.asarray(values)
    for key in steps.logs[0]:
        out[f"step/{key}"] = np.asarray([s[key] for s in steps.logs])
    for v in model.trainable_variables:
        out[f"weight/{v.path}"] = keras.ops.convert_to_numpy(v)
    out["evaluate_loss"] = model.evaluate(
        x, batch_size=BATCH, verbose=0, return_dict=True
    )["loss"]
    if model.drawn:
        out["drawn"] = np.asarray(model.drawn[0])
    elif keras.backend.backend() == "tensorflow":
        out["drawn"] = tensorflow_draw(model, distribution)
    if mode == "train":
        out.update(train_normalized(distribution, index if torch else 0))
    np.savez(os.path.join(results_dir, f"result{index}.npz"), **out)
    if index == 0:
        model.save(os.path.join(results_dir, "model.keras"))


def build(make, distribution, seed, learning_rate=1e-3):
    """A model made by `make` in the distribution's scope, compiled with
    SGD and given weights drawn from `seed`."""
    with kvae.distribution.scope(distribution):
        model = make()
        model.compile(optimizer=keras.optimizers.SGD(learning_rate))
    model.build((None,) + SHAPE)
    # On torch each process starts from other weights; process 0's are used.
    rng = np.random.default_rng(seed)
    for v in sorted(model.trainable_variables, key=lambda v: v.path):
        v.assign((0.1 * rng.standard_normal(v.shape)).astype("float32"))
    return model


def train_normalized(distribution, seed):
    """The float non-trainable variables of `normalized_vae()` after 4
    steps over `scaled_images()` in order, as `{"state/<path>": value}`."""
    model = build(normalized_vae, distribution, seed, LEARNING_RATE)
    model.fit(
        scaled_images(), batch_size=BATCH, epochs=2, shuffle=False, verbose=0
    )
    return {
        f"state/{v.path}": keras.ops.convert_to_numpy(v)
        for v in model.non_trainable_variables
        if keras.backend.is_float_dtype(v.dtype)
    }


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
