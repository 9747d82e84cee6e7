"""Resumed training (a reloaded `.keras` file, `BackupAndRestore`) goes on
exactly as an uninterrupted run: the same noise, the same weights."""

import keras
import numpy as np
import pytest

import kvae
from tests.helpers import to_numpy

X = np.random.default_rng(5).random((32, 12, 12, 1)).astype("float32")


def small_vae():
    # The same initial weights each time.
    keras.utils.set_random_seed(0)
    model = kvae.VAE(
        kvae.layers.MLPEncoder(2, hidden_units=(8,)),
        kvae.layers.MLPDecoder((12, 12, 1), hidden_units=(8,)),
        image_metrics=False,
        seed=7,
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    return model


def fit(model, epochs, initial_epoch=0, callbacks=()):
    model.fit(
        X,
        batch_size=16,
        epochs=epochs,
        initial_epoch=initial_epoch,
        shuffle=False,
        callbacks=list(callbacks),
        verbose=0,
    )


def next_eps(model):
    return to_numpy(model.draw_eps(keras.ops.zeros((4, 2))))


def weights(model):
    return [to_numpy(w) for w in model.weights]


@pytest.fixture
def uninterrupted():
    model = small_vae()
    fit(model, 2)
    return model


def test_a_reloaded_model_continues_the_noise_stream(tmp_path, uninterrupted):
    first = small_vae()
    fit(first, 1)
    first.save(tmp_path / "model.keras")
    resumed = keras.saving.load_model(tmp_path / "model.keras")
    fit(resumed, 1)
    eps = next_eps(resumed)
    np.testing.assert_array_equal(eps, next_eps(uninterrupted))
    # Not the noise of a model at step 0, as before the states were saved.
    fresh = small_vae()
    fresh.build(X.shape)
    assert not np.allclose(eps, next_eps(fresh))
    for a, b in zip(weights(resumed), weights(uninterrupted)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


class StopAt(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt("killed")


def test_backup_and_restore_continues_the_noise_stream(
    tmp_path, uninterrupted
):
    backup = str(tmp_path / "backup")
    with pytest.raises(KeyboardInterrupt):
        fit(
            small_vae(),
            2,
            callbacks=[keras.callbacks.BackupAndRestore(backup), StopAt(1)],
        )
    restored = small_vae()
    fit(restored, 2, callbacks=[keras.callbacks.BackupAndRestore(backup)])
    assert int(to_numpy(restored.optimizer.iterations)) == 4
    np.testing.assert_array_equal(next_eps(restored), next_eps(uninterrupted))
    for a, b in zip(weights(restored), weights(uninterrupted)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_a_model_trained_from_a_generator_reloads_its_optimizer(tmp_path):
    def batches():
        for start in range(0, len(X), 16):
            yield (X[start : start + 16],)

    model = small_vae()
    model.fit(batches(), epochs=1, steps_per_epoch=2, verbose=0)
    # Built from the generator's first batch, which was still trained on.
    assert model.built and model.image_shape == (12, 12, 1)
    model.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras")
    assert int(to_numpy(reloaded.optimizer.iterations)) == 2
    for a, b in zip(
        reloaded.optimizer.variables, model.optimizer.variables
    ):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b))


def test_an_unregistered_custom_encoder_is_named_when_loading(tmp_path):
    class PlainEncoder(kvae.layers.MLPEncoder):
        """A user's subclass, not registered."""

    model = kvae.VAE(
        PlainEncoder(2, hidden_units=(8,)),
        kvae.layers.MLPDecoder((12, 12, 1), hidden_units=(8,)),
        image_metrics=False,
    )
    model.compile()
    model.fit(X, batch_size=16, epochs=1, verbose=0)
    model.save(tmp_path / "model.keras")
    with pytest.raises(ValueError) as error:
        keras.saving.load_model(tmp_path / "model.keras")
    message = str(error.value)
    assert message.startswith(
        "Cannot load the encoder of this kvae model: its class "
        "'PlainEncoder'"
    ), message[:300]
    assert "register_keras_serializable" in message
    assert "custom_objects={'PlainEncoder': PlainEncoder}" in message
    reloaded = keras.saving.load_model(
        tmp_path / "model.keras", custom_objects={"PlainEncoder": PlainEncoder}
    )
    assert reloaded.built
