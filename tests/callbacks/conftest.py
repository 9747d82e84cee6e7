import imageio.v3 as iio
import keras
import numpy as np
import pytest

import kvae

# A tiny model on tiny images keeps each fit() to a second or two on every
# backend; the callbacks' logic does not depend on the model's size.
IMAGE_SHAPE = (16, 16, 1)


def make_images(n=64, shape=IMAGE_SHAPE, seed=0):
    return np.random.default_rng(seed).random((n,) + shape).astype("float32")


@pytest.fixture
def images():
    return make_images()


@pytest.fixture
def labels():
    return np.arange(64) % 4


@pytest.fixture
def train():
    """`train(callbacks, ...)`: a real `fit()` of a small VAE."""

    def train(
        callbacks,
        images=None,
        epochs=2,
        latent_dim=2,
        batch_size=16,
        validation_data=None,
        image_metrics=True,
        learning_rate=0.02,
    ):
        images = make_images() if images is None else images
        keras.utils.set_random_seed(0)
        model = kvae.VAE(
            kvae.layers.MLPEncoder(latent_dim, hidden_units=(32,)),
            kvae.layers.MLPDecoder(
                output_shape=images.shape[1:], hidden_units=(32,)
            ),
            image_metrics=image_metrics,
            seed=1,
        )
        # A large learning rate by default, so that a few steps visibly
        # change frames.
        model.compile(optimizer=keras.optimizers.Adam(learning_rate))
        history = model.fit(
            images,
            epochs=epochs,
            batch_size=batch_size,
            validation_data=validation_data,
            callbacks=callbacks,
            verbose=0,
        )
        return model, history

    return train


@pytest.fixture
def read_gif():
    """`read_gif(path) -> (frames (n, h, w, 3) uint8, durations in s)`."""

    def read_gif(path):
        frames = iio.imread(path, index=None)
        durations = [
            iio.immeta(path, index=i)["duration"] / 1000.0
            for i in range(len(frames))
        ]
        return frames, durations

    return read_gif


class Probe(keras.callbacks.Callback):
    """Calls `fn(epoch)` at each epoch end (after the callbacks before it),
    to look at files while training runs."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def on_epoch_end(self, epoch, logs=None):
        self.fn(epoch)


@pytest.fixture
def probe():
    return Probe
