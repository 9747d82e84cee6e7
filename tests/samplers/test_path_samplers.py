"""Samplers fitted to the codes of every group of a hierarchical VAE
(`levels="all"`): the model's `encode_path` / `decode_path`, the Gaussian
mixture in principal components, saving, the sample GIF and bad input."""

import keras
import numpy as np
import pytest

import kvae
from kvae.samplers import GaussianMixtureSampler
from tests.helpers import randomized
from tests.helpers import tiny_hierarchical_layers
from tests.helpers import to_numpy

SHAPE = (8, 8, 1)
X = np.random.default_rng(0).random((64,) + SHAPE).astype("float32")


def hierarchical(conditional=False):
    layers = tiny_hierarchical_layers(SHAPE, groups=(1, 2))
    if conditional:
        model = kvae.ConditionalHierarchicalVAE(
            *layers, num_classes=3, seed=0, image_metrics=False
        )
    else:
        model = kvae.HierarchicalVAE(*layers, seed=0, image_metrics=False)
    return randomized(model, SHAPE)


@pytest.fixture(scope="module")
def model():
    return hierarchical()


def test_path_codes_decode_to_the_reconstruction(model):
    codes = to_numpy(model.encode_path(X[:5]))
    dims = model.level_dims()  # bottom first, the top group last
    assert codes.shape == (5, model.path_dim) and model.path_dim == sum(dims)
    # The top group's posterior mean comes first.
    np.testing.assert_allclose(
        codes[:, : dims[-1]], to_numpy(model.encode(X[:5])[0]), atol=1e-5
    )
    # The lower groups' standardised offsets are not trivial ...
    assert np.abs(codes[:, dims[-1] :]).max() > 1e-2
    # ... and decoding undoes them: every group at its posterior mean.
    np.testing.assert_allclose(
        to_numpy(model.decode_path(codes)),
        to_numpy(model.reconstruct(X[:5])),
        atol=1e-4,
    )
    # Zero offsets put the lower groups at their prior means, as decode().
    top_only = np.concatenate(
        [codes[:, : dims[-1]], np.zeros_like(codes[:, dims[-1] :])], axis=1
    )
    np.testing.assert_allclose(
        to_numpy(model.decode_path(top_only)),
        to_numpy(model.decode(codes[:, : dims[-1]])),
        atol=1e-5,
    )
    with pytest.raises(ValueError, match="decode_path.. takes codes"):
        model.decode_path(codes[:, :-1])


def test_a_conditional_model_codes_every_group_given_labels():
    model = hierarchical(conditional=True)
    labels = np.arange(4) % 3
    codes = model.encode_path(X[:4], labels=labels)
    np.testing.assert_allclose(
        to_numpy(model.decode_path(codes, labels=labels)),
        to_numpy(model.reconstruct(X[:4], labels=labels)),
        atol=1e-4,
    )
    other = to_numpy(model.encode_path(X[:4], labels=(labels + 1) % 3))
    assert np.abs(other - to_numpy(codes)).max() > 1e-3
    sampler = GaussianMixtureSampler(2, pca_components=6)
    sampler.fit(model, X[:30], labels=np.arange(30) % 3, levels="all")
    assert sampler.sample(4, labels=1, seed=0).shape == (4,) + SHAPE


def test_a_mixture_of_every_group_samples_saves_and_loads(model, tmp_path):
    sampler = GaussianMixtureSampler(3, pca_components=6, seed=1).fit(
        model, X, levels="all", verbose=0
    )
    assert sampler.latent_dim == model.path_dim and sampler.levels == "all"
    codes = sampler.sample_latent(50, seed=2)
    # Draws lie in the span of the codes' first 6 principal components.
    mean, components, _ = sampler.pca
    offsets = codes - mean
    np.testing.assert_allclose(
        offsets @ components.T @ components, offsets, atol=1e-4
    )
    images = sampler.sample(5, seed=2)
    five = sampler.sample_latent(5, seed=2)
    np.testing.assert_allclose(
        images, to_numpy(model.decode_path(five)), atol=1e-5
    )
    path = str(tmp_path / "all.npz")
    sampler.save(path)
    loaded = kvae.samplers.load_sampler(path, model)
    assert loaded.levels == "all" and loaded.pca_components == 6
    np.testing.assert_allclose(loaded.sample(5, seed=2), images, atol=1e-6)
    flat = kvae.VAE(
        kvae.layers.MLPEncoder(model.path_dim, hidden_units=(4,)),
        kvae.layers.MLPDecoder(SHAPE, hidden_units=(4,)),
        image_metrics=False,
    )
    flat.build((None,) + SHAPE)
    with pytest.raises(ValueError, match="has one level"):
        kvae.samplers.load_sampler(path, flat)
    # A top-level sampler of the same model does not take these codes.
    top = GaussianMixtureSampler(2).fit(model, X, verbose=0)
    assert top.latent_dim == model.latent_dim and top.levels == "top"


def test_the_sample_gif_decodes_every_group(model, tmp_path):
    sampler = GaussianMixtureSampler(2, pca_components=4).fit(
        model, X, levels="all", verbose=0
    )
    callback = kvae.callbacks.SampleGIF(
        tmp_path, grid_size=2, sampler=sampler, seed=3
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-4))
    model.fit(X[:16], epochs=1, batch_size=16, verbose=0, callbacks=[callback])
    assert (tmp_path / "samples.gif").is_file()
    np.testing.assert_allclose(
        callback.latent_points, sampler.sample_latent(4, seed=3)
    )


def test_errors_before_any_work(model):
    with pytest.raises(ValueError, match="levels must be 'top' or 'all'"):
        GaussianMixtureSampler(2).fit(model, X, levels="bottom")
    flat = kvae.VAE(
        kvae.layers.MLPEncoder(2, hidden_units=(4,)),
        kvae.layers.MLPDecoder(SHAPE, hidden_units=(4,)),
        image_metrics=False,
    )
    flat.build((None,) + SHAPE)
    with pytest.raises(ValueError, match="levels='all' fits the codes"):
        GaussianMixtureSampler(2).fit(flat, X, levels="all")
    for bad in (0, -3, 2.5):
        with pytest.raises(ValueError, match="pca_components must be"):
            GaussianMixtureSampler(2, pca_components=bad)
    codes = np.random.default_rng(1).standard_normal((40, 12))
    with pytest.raises(ValueError, match="exceeds what 40 codes of 12"):
        GaussianMixtureSampler(2, pca_components=13).fit_codes(codes, 0)
    # Full covariances too large to hold are refused before EM starts.
    wide = np.random.default_rng(2).standard_normal((120, 6000))
    with pytest.raises(ValueError, match="GiB: give pca_components"):
        GaussianMixtureSampler(100).fit_codes(wide, 0)
