"""What Keras users configure keeps working inside kvae's custom steps."""

import keras
import numpy as np
import pytest

import kvae
from tests.helpers import to_numpy

X = (np.random.default_rng(1).random((64, 28, 28, 1)) < 0.3).astype("float32")


def small_vae(**kwargs):
    return kvae.VAE(
        kvae.layers.MLPEncoder(2, hidden_units=(16,)),
        kvae.layers.MLPDecoder((28, 28, 1), hidden_units=(16,)),
        seed=0,
        **kwargs,
    )


def weights(model):
    return [to_numpy(w).copy() for w in model.trainable_weights]


@pytest.mark.parametrize(
    "optimizer",
    [
        keras.optimizers.Adam(1e-3, clipnorm=1.0),
        keras.optimizers.Adam(1e-3, global_clipnorm=1.0),
        keras.optimizers.AdamW(1e-3, weight_decay=1e-2),
    ],
    ids=["clipnorm", "global_clipnorm", "adamw"],
)
def test_optimizer_options(optimizer):
    model = small_vae()
    model.compile(optimizer=optimizer)
    model.build((None, 28, 28, 1))
    before = weights(model)
    history = model.fit(X, epochs=2, batch_size=16, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert any(not np.allclose(a, b) for a, b in zip(before, weights(model)))


def test_clipnorm_bounds_the_update():
    # SGD with lr=1: the update of each variable is its clipped gradient.
    model = small_vae()
    model.compile(optimizer=keras.optimizers.SGD(1.0, clipnorm=1e-3))
    model.build((None, 28, 28, 1))
    before = weights(model)
    model.fit(X[:16], epochs=1, batch_size=16, verbose=0)
    for a, b in zip(before, weights(model)):
        assert np.linalg.norm(a - b) <= 1e-3 * 1.001


def test_learning_rate_schedule_advances():
    schedule = keras.optimizers.schedules.CosineDecay(1e-3, decay_steps=8)
    model = small_vae()
    model.compile(optimizer=keras.optimizers.Adam(schedule))
    model.fit(X, epochs=1, batch_size=16, verbose=0)
    assert int(to_numpy(model.optimizer.iterations)) == 4
    np.testing.assert_allclose(
        float(to_numpy(model.optimizer.learning_rate)),
        float(to_numpy(schedule(4))),
        rtol=1e-5,
    )


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision(policy):
    keras.config.set_dtype_policy(policy)
    model = small_vae()
    model.compile(optimizer="adam")
    history = model.fit(X, epochs=2, batch_size=16, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert model.encoder.compute_dtype == policy.split("_")[1]
    if policy == "mixed_float16":
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert to_numpy(model.reconstruct(X[:2])).dtype == np.float32


def test_steps_per_execution():
    model = small_vae()
    model.compile(optimizer="adam", steps_per_execution=2)
    history = model.fit(X, epochs=1, batch_size=8, verbose=0)
    assert int(to_numpy(model.optimizer.iterations)) == 8
    assert np.isfinite(history.history["loss"][0])


def test_extra_compile_metrics_see_images_and_reconstructions():
    model = small_vae()
    model.compile(optimizer="adam", metrics=["mae"])
    logs = model.fit(X, epochs=1, batch_size=16, verbose=0).history
    assert "mae" in logs
    assert 0 < logs["mae"][0] < 1


def test_early_stopping():
    model = small_vae()
    model.compile(optimizer="adam")
    stop = keras.callbacks.EarlyStopping(
        monitor="loss", min_delta=1e9, patience=1
    )
    history = model.fit(
        X, epochs=10, batch_size=32, callbacks=[stop], verbose=0
    )
    assert len(history.history["loss"]) == 2


def test_terminate_on_nan():
    model = small_vae()
    model.compile(optimizer="adam")
    model.build((None, 28, 28, 1))
    kernel = model.decoder.out.kernel
    kernel.assign(np.full(kernel.shape, np.nan, "float32"))
    history = model.fit(
        X,
        epochs=5,
        batch_size=16,
        callbacks=[keras.callbacks.TerminateOnNaN()],
        verbose=0,
    )
    assert len(history.history.get("loss", [])) <= 1
    assert model.stop_training


def test_backup_and_restore_resumes_after_an_interruption(tmp_path):
    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise RuntimeError("interrupted")

    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))
    model = small_vae()
    model.compile(optimizer="adam")
    with pytest.raises(RuntimeError, match="interrupted"):
        model.fit(X, epochs=4, batch_size=32, callbacks=[backup, Interrupt()])
    saved = weights(model)

    class Record(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.start = weights(self.model)

    resumed = small_vae()
    resumed.compile(optimizer="adam")
    resumed.build((None, 28, 28, 1))
    initial = weights(resumed)
    record = Record()
    history = resumed.fit(
        X, epochs=4, batch_size=32, callbacks=[backup, record], verbose=0
    )
    # Epochs 0 and 1 were done; only 2 and 3 run again.
    assert len(history.history["loss"]) == 2
    assert history.epoch == [2, 3]
    # Training resumed from the weights of the interruption, not from the
    # new model's initial ones, and went on from there.
    assert any(not np.allclose(a, b) for a, b in zip(saved, initial))
    for a, b in zip(saved, record.start):
        np.testing.assert_allclose(a, b)
    assert any(not np.allclose(a, b) for a, b in zip(saved, weights(resumed)))
