"""A ConditionalVAE saved under this backend loads, gives the same
outputs for the same labels, and trains under every other backend."""

import keras
import numpy as np
import pytest

import kvae
from tests.helpers import run_under_other_backends
from tests.helpers import to_numpy


@pytest.mark.slow
def test_conditional_file_loads_and_trains_under_every_other_backend(
    tmp_path,
):
    rng = np.random.default_rng(0)
    x = (rng.random((32, 28, 28, 1)) < 0.3).astype("float32")
    y = np.arange(32) % 3
    model = kvae.ConditionalVAE(
        kvae.layers.ConvEncoder(3, filters=(4, 8), dense_units=16),
        kvae.layers.ConvDecoder((28, 28, 1), filters=(8, 4), dense_units=16),
        num_classes=3,
        objective="iwae",
        num_samples=2,
        seed=4,
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    model.save(tmp_path / "m.keras")
    eps = rng.standard_normal((2, 8, 3)).astype("float32")
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    np.save(tmp_path / "eps.npy", eps)
    np.save(tmp_path / "rec.npy", to_numpy(model.reconstruct(x[:8], y[:8])))
    log_w = model.log_importance_weights(x[:8], eps, labels=y[:8])
    np.save(tmp_path / "logw.npy", to_numpy(log_w))
    script = (
        "import sys, numpy as np, keras, kvae\n"
        "d = sys.argv[1]\n"
        "x, y = np.load(d + '/x.npy'), np.load(d + '/y.npy')\n"
        "m = kvae.load_model(d + '/m.keras')\n"
        "assert isinstance(m, kvae.ConditionalVAE)\n"
        "got = keras.ops.convert_to_numpy(m.reconstruct(x[:8], y[:8]))\n"
        "np.testing.assert_allclose(got, np.load(d + '/rec.npy'), atol=1e-5)\n"
        "eps = np.load(d + '/eps.npy')\n"
        "log_w = m.log_importance_weights(x[:8], eps, labels=y[:8])\n"
        "np.testing.assert_allclose(keras.ops.convert_to_numpy(log_w),"
        " np.load(d + '/logw.npy'), rtol=1e-4)\n"
        "h = m.fit(x, y, epochs=1, batch_size=8, verbose=0)\n"
        "assert np.isfinite(h.history['loss']).all()\n"
        "print('OK', keras.backend.backend())\n"
    )
    for backend, stdout in run_under_other_backends(script, tmp_path):
        assert f"OK {backend}" in stdout
