import json
import zipfile

import keras
import numpy as np
import pytest

import kvae
from tests.helpers import run_under_other_backends
from tests.helpers import tiny_hierarchical_layers
from tests.helpers import to_numpy

X = (np.random.default_rng(2).random((64, 28, 28, 1)) < 0.3).astype("float32")


def trained_model(**kwargs):
    model = kvae.VAE(
        kvae.layers.ConvEncoder(3, filters=(4, 8), dense_units=16),
        kvae.layers.ConvDecoder((28, 28, 1), filters=(8, 4), dense_units=16),
        seed=4,
        **kwargs,
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(X, epochs=1, batch_size=16, verbose=0)
    return model


def test_config_round_trip():
    model = kvae.VAE(
        kvae.layers.MLPEncoder(4),
        kvae.layers.MLPDecoder(),
        likelihood="gaussian",
        beta=0.5,
        kl_warmup_steps=10,
        sigma="learned",
        image_metrics=False,
        max_val=2.0,
        seed=3,
    )
    config = model.get_config()
    clone = kvae.VAE.from_config(config)
    assert clone.get_config() == config
    for key in ("likelihood", "beta", "kl_warmup_steps", "sigma", "seed"):
        assert getattr(clone, key) == getattr(model, key)
    assert isinstance(clone.encoder, kvae.layers.MLPEncoder)


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_save_and_reload_gives_identical_outputs(tmp_path, likelihood):
    model = trained_model(likelihood=likelihood)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, kvae.VAE)
    np.testing.assert_array_equal(
        to_numpy(loaded.reconstruct(X[:8])), to_numpy(model.reconstruct(X[:8]))
    )
    np.testing.assert_array_equal(
        to_numpy(loaded.encode(X[:8])[1]), to_numpy(model.encode(X[:8])[1])
    )
    # Training goes on with the restored optimizer state.
    assert int(to_numpy(loaded.optimizer.iterations)) == 4
    loaded.fit(X, epochs=1, batch_size=16, verbose=0)
    assert int(to_numpy(loaded.optimizer.iterations)) == 8


def test_saved_optimizer_is_portable(tmp_path):
    path = tmp_path / "m.keras"
    trained_model().save(path)
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
    module = config["compile_config"]["optimizer"]["module"]
    assert module == "keras.optimizers"


def test_torch_optimizer_module_is_rewritten_on_load():
    from kvae.saving import portable_optimizer

    config = {
        "optimizer": {
            "module": "keras.src.backend.torch.optimizers.torch_adam",
            "class_name": "Adam",
            "config": {"learning_rate": 0.001},
        }
    }
    fixed = portable_optimizer(config)
    assert fixed["optimizer"]["module"] == "keras.optimizers"
    assert fixed["optimizer"]["config"] == {"learning_rate": 0.001}


@pytest.mark.slow
def test_file_loads_and_trains_under_every_other_backend(tmp_path):
    model = trained_model()
    model.save(tmp_path / "m.keras")
    np.save(tmp_path / "x.npy", X[:8])
    np.save(tmp_path / "expected.npy", to_numpy(model.reconstruct(X[:8])))
    script = (
        "import sys, numpy as np, keras, kvae\n"
        "d = sys.argv[1]\n"
        "m = keras.saving.load_model(d + '/m.keras')\n"
        "x = np.load(d + '/x.npy')\n"
        "got = keras.ops.convert_to_numpy(m.reconstruct(x))\n"
        "np.testing.assert_allclose(got, np.load(d + '/expected.npy'),"
        " atol=1e-5)\n"
        "h = m.fit(np.concatenate([x] * 4), epochs=2, batch_size=8,"
        " verbose=0)\n"
        "assert np.isfinite(h.history['loss']).all()\n"
        "print('OK', keras.backend.backend())\n"
    )
    for backend, stdout in run_under_other_backends(script, tmp_path):
        assert f"OK {backend}" in stdout


# The labels of the conditional models' data.
Y = np.arange(len(X)) % 3


def new_models():
    """One of each model kvae has beyond the plain VAE, trained a little:
    `{name: model}`, the conditional ones' names starting "conditional"."""
    conv = dict(
        encoder=lambda: kvae.layers.ConvEncoder(
            3, filters=(4, 8), dense_units=16
        ),
        decoder=lambda: kvae.layers.ConvDecoder(
            (28, 28, 1), filters=(8, 4), dense_units=16
        ),
    )
    models = {
        "vamp": kvae.VAE(
            conv["encoder"](),
            conv["decoder"](),
            prior=kvae.priors.VampPrior(num_components=6),
            seed=4,
        ),
        "mixture_iwae": kvae.VAE(
            conv["encoder"](),
            conv["decoder"](),
            prior="mixture_of_gaussians",
            objective="iwae",
            num_samples=3,
            seed=4,
        ),
        "hierarchical": kvae.HierarchicalVAE(
            *tiny_hierarchical_layers((28, 28, 1)),
            free_bits=0.1,
            seed=4,
        ),
        "conditional": kvae.ConditionalVAE(
            conv["encoder"](),
            conv["decoder"](),
            num_classes=3,
            objective="iwae",
            num_samples=2,
            seed=4,
        ),
        "conditional_hierarchical": kvae.ConditionalHierarchicalVAE(
            *tiny_hierarchical_layers((28, 28, 1)),
            num_classes=3,
            prior="class_gaussian",
            num_samples=2,
            seed=4,
        ),
    }
    for name, model in models.items():
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        labels = Y if name.startswith("conditional") else None
        model.fit(X, labels, epochs=1, batch_size=16, verbose=0)
    return models


@pytest.mark.slow
def test_new_models_load_and_train_under_every_other_backend(tmp_path):
    """Every model of `new_models` saved here loads under each other
    backend as the same class, gives the same reconstructions and
    importance weights (for the same labels, for a conditional model) and
    trains; one process per backend loads them all."""
    rng = np.random.default_rng(0)
    np.save(tmp_path / "x.npy", X[:8])
    np.save(tmp_path / "y.npy", Y[:8])
    models = new_models()
    for name, model in models.items():
        model.save(tmp_path / f"{name}.keras")
        labels = {"labels": Y[:8]} if name.startswith("conditional") else {}
        rec = model.reconstruct(X[:8], *labels.values())
        np.save(tmp_path / f"{name}-rec.npy", to_numpy(rec))
        model_eps = rng.standard_normal((2, 8, model.total_latent_dim))
        model_eps = model_eps.astype("float32")
        np.save(tmp_path / f"{name}-eps.npy", model_eps)
        log_w = model.log_importance_weights(X[:8], model_eps, **labels)
        np.save(tmp_path / f"{name}-logw.npy", to_numpy(log_w))
    classes = {name: type(m).__name__ for name, m in models.items()}
    script = (
        "import sys, numpy as np, keras, kvae\n"
        "d = sys.argv[1]\n"
        "x, y = np.load(d + '/x.npy'), np.load(d + '/y.npy')\n"
        f"for name, cls in {classes!r}.items():\n"
        "    m = keras.saving.load_model(d + f'/{name}.keras')\n"
        "    assert type(m).__name__ == cls, (name, type(m))\n"
        "    labels = {'labels': y} if name.startswith('conditional') else {}\n"
        "    got = m.reconstruct(x, *labels.values())\n"
        "    np.testing.assert_allclose(keras.ops.convert_to_numpy(got),"
        " np.load(d + f'/{name}-rec.npy'), atol=1e-5)\n"
        "    eps = np.load(d + f'/{name}-eps.npy')\n"
        "    log_w = keras.ops.convert_to_numpy("
        "m.log_importance_weights(x, eps, **labels))\n"
        "    np.testing.assert_allclose(log_w,"
        " np.load(d + f'/{name}-logw.npy'), rtol=1e-4)\n"
        "    y4 = np.concatenate([y] * 4) if labels else None\n"
        "    h = m.fit(np.concatenate([x] * 4), y4, epochs=1, batch_size=8,"
        " verbose=0)\n"
        "    assert np.isfinite(h.history['loss']).all()\n"
        "    print('OK', name, keras.backend.backend())\n"
    )
    for backend, stdout in run_under_other_backends(script, tmp_path):
        for name in models:
            assert f"OK {name} {backend}" in stdout
