"""A ConditionalVAE and a ConditionalHierarchicalVAE saved under this
backend load, give the same outputs for the same labels, and train under
every other backend."""

import keras
import numpy as np
import pytest

import kvae
from tests.helpers import run_under_other_backends
from tests.helpers import tiny_hierarchical_layers
from tests.helpers import to_numpy

MODELS = {
    "conv": lambda: kvae.ConditionalVAE(
        kvae.layers.ConvEncoder(3, filters=(4, 8), dense_units=16),
        kvae.layers.ConvDecoder((28, 28, 1), filters=(8, 4), dense_units=16),
        num_classes=3,
        objective="iwae",
        num_samples=2,
        seed=4,
    ),
    "hierarchical": lambda: kvae.ConditionalHierarchicalVAE(
        *tiny_hierarchical_layers((28, 28, 1)),
        num_classes=3,
        num_samples=2,
        image_metrics=False,
        seed=4,
    ),
}


@pytest.mark.slow
def test_conditional_files_load_and_train_under_every_other_backend(
    tmp_path,
):
    rng = np.random.default_rng(0)
    x = (rng.random((32, 28, 28, 1)) < 0.3).astype("float32")
    y = np.arange(32) % 3
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    for name, build in MODELS.items():
        model = build()
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        model.fit(x, y, epochs=2, batch_size=8, verbose=0)
        model.save(tmp_path / f"{name}.keras")
        # Noise for every latent group (one, for the flat model).
        dims = sum(model.level_dims())
        eps = rng.standard_normal((2, 8, dims)).astype("float32")
        np.save(tmp_path / f"{name}-eps.npy", eps)
        rec = to_numpy(model.reconstruct(x[:8], y[:8]))
        np.save(tmp_path / f"{name}-rec.npy", rec)
        log_w = model.log_importance_weights(x[:8], eps, labels=y[:8])
        np.save(tmp_path / f"{name}-logw.npy", to_numpy(log_w))
    script = (
        "import sys, numpy as np, keras, kvae\n"
        "d = sys.argv[1]\n"
        "x, y = np.load(d + '/x.npy'), np.load(d + '/y.npy')\n"
        "for name, cls in (('conv', kvae.ConditionalVAE),\n"
        "        ('hierarchical', kvae.ConditionalHierarchicalVAE)):\n"
        "    m = kvae.load_model(f'{d}/{name}.keras')\n"
        "    assert type(m) is cls, type(m)\n"
        "    got = keras.ops.convert_to_numpy(m.reconstruct(x[:8], y[:8]))\n"
        "    np.testing.assert_allclose(\n"
        "        got, np.load(f'{d}/{name}-rec.npy'), atol=1e-5)\n"
        "    eps = np.load(f'{d}/{name}-eps.npy')\n"
        "    log_w = m.log_importance_weights(x[:8], eps, labels=y[:8])\n"
        "    np.testing.assert_allclose(keras.ops.convert_to_numpy(log_w),\n"
        "        np.load(f'{d}/{name}-logw.npy'), rtol=1e-4)\n"
        "    h = m.fit(x, y, epochs=1, batch_size=8, verbose=0)\n"
        "    assert np.isfinite(h.history['loss']).all()\n"
        "print('OK', keras.backend.backend())\n"
    )
    for backend, stdout in run_under_other_backends(script, tmp_path):
        assert f"OK {backend}" in stdout
