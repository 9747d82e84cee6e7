"""benchmarks/iwae_nll_chunks.py: resumable chunks, one figure from them,
and a refusal to mix chunks scored with other settings or another model."""

import importlib.util
import os

import numpy as np
import pytest

import kvae
from tests.helpers import randomized
from tests.helpers import tiny_hierarchical_layers

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
SETTINGS = dict(samples=3, chunk=4, in_order=4, seed=0)


@pytest.fixture(scope="module")
def chunks():
    spec = importlib.util.spec_from_file_location(
        "iwae_nll_chunks",
        os.path.join(ROOT, "benchmarks", "iwae_nll_chunks.py"),
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def model():
    return randomized(
        kvae.HierarchicalVAE(
            *tiny_hierarchical_layers(), seed=0, image_metrics=False
        ),
        (8, 8, 1),
    )


def images(count=14):
    rng = np.random.default_rng(1)
    return (rng.random((count, 8, 8, 1)) < 0.4).astype("float32")


def test_the_chunks_hold_every_image_once_with_its_score(
    chunks, model, tmp_path, capsys
):
    x = images()
    chunks.score_chunks(model, x, str(tmp_path), **SETTINGS)
    names = sorted(os.listdir(tmp_path))
    # 4 in file order, then 10 at random in chunks of 4, 4 and 2.
    assert names == [
        "nll_00000_00004.npy",
        "rand_000.npz",
        "rand_001.npz",
        "rand_002.npz",
        "settings.json",
    ]
    ordered = np.load(tmp_path / "nll_00000_00004.npy")
    rest = [np.load(tmp_path / f"rand_{i:03d}.npz") for i in range(3)]
    index = np.concatenate([c["idx"] for c in rest])
    assert sorted(index) == list(range(4, 14))
    # Each chunk's scores are importance_weighted_nll's, with its seed.
    expected = kvae.evaluation.importance_weighted_nll(
        model, x[rest[1]["idx"]], num_samples=3, seed=10_000 + 4, reduce=False
    )
    np.testing.assert_allclose(rest[1]["nll"], expected, rtol=1e-6)
    # With every image scored the estimate is the plain mean.
    capsys.readouterr()
    chunks.summary(str(tmp_path), len(x))
    scores = np.concatenate([ordered, *(c["nll"] for c in rest)])
    assert f"estimate over all 14: {scores.mean():.3f} nats" in (
        capsys.readouterr().out
    )


def test_a_rerun_resumes_and_other_settings_are_refused(
    chunks, model, tmp_path, capsys
):
    x = images()
    out = str(tmp_path)
    chunks.score_chunks(model, x, out, **SETTINGS)
    os.remove(tmp_path / "rand_001.npz")
    capsys.readouterr()
    chunks.score_chunks(model, x, out, **SETTINGS)
    assert "rand_001.npz" in capsys.readouterr().out.split(":")[0]
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(SystemExit, match="samples: 3 there, 5 now"):
        chunks.score_chunks(model, x, out, **{**SETTINGS, "samples": 5})
    model.trainable_variables[0].assign(model.trainable_variables[0] + 1.0)
    with pytest.raises(SystemExit, match="weights_sha256"):
        chunks.score_chunks(model, x, out, **SETTINGS)
    assert sorted(os.listdir(tmp_path)) == before
