"""An epoch whose last batch holds one image trains on every backend (torch
on the CPU needs kvae's workaround, see docs/backends.md)."""

import numpy as np

import kvae


def test_a_final_batch_of_one_image_trains():
    x = np.random.default_rng(0).random((17, 28, 28, 1)).astype("float32")
    # One output channel in the last convolution: the case torch fails.
    model = kvae.VAE(
        kvae.layers.ConvEncoder(2, filters=(4, 4), dense_units=8),
        kvae.layers.ConvDecoder((28, 28, 1), filters=(4, 4), dense_units=8),
        seed=0,
    )
    model.compile()
    history = model.fit(x, batch_size=16, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    # A whole epoch of single images, too.
    history = model.fit(x[:3], batch_size=1, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert int(np.asarray(model.optimizer.iterations)) == 2 * 2 + 3
