from statistics import NormalDist

import keras
import numpy as np
import pytest

import kvae
from kvae.callbacks import SampleGIF
from kvae.callbacks._frames import LABEL_HEIGHT
from kvae.callbacks.sample_gif import manifold_grid
from tests.callbacks.conftest import make_images
from tests.helpers import tiny_hierarchical_layers
from tests.helpers import to_numpy


def test_manifold_grid_with_2d_latent(tmp_path, train, read_gif):
    callback = SampleGIF(tmp_path, grid_size=(3, 5), frame_duration=0.25)
    train([callback], epochs=3, latent_dim=2)

    np.testing.assert_allclose(callback.latent_points, manifold_grid(3, 5))
    frames, durations = read_gif(tmp_path / "samples.gif")
    # 3 x 5 cells of 48 pixels, gaps of 2, margins of 4, a caption strip.
    assert frames.shape == (3, LABEL_HEIGHT + 8 + 3 * 48 + 4, 8 + 5 * 48 + 8, 3)
    assert durations[:2] == [0.25, 0.25]
    grids = frames[:, LABEL_HEIGHT:]
    assert not np.array_equal(grids[0], grids[1])
    assert not np.array_equal(grids[1], grids[2])


def test_manifold_grid_spans_gaussian_quantiles():
    z = manifold_grid(3, 4).reshape(3, 4, 2)
    q05, q95 = NormalDist().inv_cdf(0.05), NormalDist().inv_cdf(0.95)
    np.testing.assert_allclose(z[0, 0], [q05, q95], rtol=1e-6)  # top left
    np.testing.assert_allclose(z[-1, -1], [q95, q05], rtol=1e-6)
    assert np.all(np.diff(z[..., 0], axis=1) > 0)  # z[0] grows rightwards
    assert np.all(np.diff(z[..., 1], axis=0) < 0)  # z[1] grows upwards
    np.testing.assert_allclose(manifold_grid(1, 1), [[0.0, 0.0]])


class Snapshots(keras.callbacks.Callback):
    """The SampleGIF's `latent_points` after each of its frames, and the
    model's `sample_latent(n, seed)` then."""

    def __init__(self, gif):
        super().__init__()
        self.gif = gif
        self.points = []
        self.draws = []

    def on_epoch_end(self, epoch, logs=None):
        n = len(self.gif.latent_points)
        self.points.append(np.array(self.gif.latent_points))
        self.draws.append(
            to_numpy(self.model.sample_latent(n, seed=self.gif.seed))
        )


def fit(model, callbacks, images, epochs=3):
    model.compile(optimizer=keras.optimizers.Adam(0.02))
    model.fit(
        images, epochs=epochs, batch_size=16, verbose=0, callbacks=callbacks
    )


def mlp_vae(shape, model_class=kvae.VAE, **kwargs):
    return model_class(
        kvae.layers.MLPEncoder(3, hidden_units=(32,)),
        kvae.layers.MLPDecoder(output_shape=shape, hidden_units=(32,)),
        image_metrics=False,
        seed=1,
        **kwargs,
    )


def test_standard_normal_prior_gives_fixed_draws(tmp_path, images, read_gif):
    gif = SampleGIF(tmp_path, grid_size=10, seed=3)
    snapshots = Snapshots(gif)
    fit(mlp_vae(images.shape[1:]), [gif, snapshots], images)
    points = snapshots.points
    assert points[0].shape == (100, 3)
    # The same points at every frame: the prior does not change.
    np.testing.assert_array_equal(points[0], points[1])
    np.testing.assert_array_equal(points[0], points[2])
    np.testing.assert_allclose(points[0], snapshots.draws[0])
    assert abs(points[0].mean()) < 0.25
    assert 0.8 < points[0].std() < 1.2
    frames, _ = read_gif(tmp_path / "samples.gif")
    assert len(frames) == 3
    assert not np.array_equal(frames[0], frames[2])


def test_a_learned_prior_is_sampled_as_it_moves(tmp_path, images):
    model = mlp_vae(
        images.shape[1:],
        prior=kvae.priors.MixtureOfGaussians(num_components=2),
    )
    model.build(images.shape)
    # Two components far from N(0, I): means 5 and 9, equal weights.
    means = np.stack([np.full(3, 5.0), np.full(3, 9.0)]).astype("float32")
    model.prior.means.assign(means)
    gif = SampleGIF(tmp_path, grid_size=10, seed=3)
    snapshots = Snapshots(gif)
    fit(model, [gif, snapshots], images)
    points, draws = snapshots.points, snapshots.draws
    # Each frame decodes the prior's draws with the callback's seed, from
    # the prior of that moment.
    for frame, draw in zip(points, draws):
        np.testing.assert_allclose(frame, draw, rtol=1e-6, atol=1e-6)
    assert abs(points[-1].mean() - 7.0) < 1.0
    # Every point near one of the two components.
    distance = np.abs(points[-1][:, None, :] - means[None]).max(-1).min(-1)
    assert distance.max() < 5.0
    # The prior moved a little during training, and its draws with it: the
    # same noise, moved, not new draws. A draw switches component only
    # where the changed mixture weights tip its choice.
    moved = np.abs(points[-1] - points[0]).max(-1)
    assert moved.max() > 0
    assert np.mean(moved < 0.5) > 0.8


@pytest.mark.slow
def test_hierarchical_vae_draws_its_top_level(tmp_path, images):
    shape = images.shape[1:]
    model = kvae.HierarchicalVAE(
        *tiny_hierarchical_layers(shape),
        prior=kvae.priors.MixtureOfGaussians(num_components=2),
        image_metrics=False,
        seed=0,
    )
    gif = SampleGIF(tmp_path, grid_size=2, seed=4)
    snapshots = Snapshots(gif)
    fit(model, [gif, snapshots], images, epochs=1)
    assert snapshots.points[0].shape == (4, model.decoder.top_dim)
    np.testing.assert_allclose(
        snapshots.points[0], snapshots.draws[0], rtol=1e-6, atol=1e-6
    )


class NoPriorVAE(kvae.VAE):
    """A model without `sample_latent`, as a user's own model may be."""

    sample_latent = None


def test_models_without_a_prior_get_fixed_normal_draws(
    tmp_path, images, read_gif
):
    model = mlp_vae(images.shape[1:], model_class=NoPriorVAE)
    callback = SampleGIF(tmp_path, grid_size=2, every_n_batches=2, seed=3)
    fit(model, [callback], images, epochs=1)
    assert callback.latent_points.shape == (4, 3)
    expected = np.random.default_rng(3).standard_normal((4, 3))
    np.testing.assert_allclose(callback.latent_points, expected, rtol=1e-6)
    frames, _ = read_gif(tmp_path / "samples.gif")
    assert len(frames) == 2  # steps 2 and 4


def test_manifold_needs_2d_latent(tmp_path, train):
    callback = SampleGIF(tmp_path, sampling="manifold")
    with pytest.raises(ValueError, match="needs a 2-D latent"):
        train([callback], epochs=1, latent_dim=1)
    assert not (tmp_path / "samples.gif").exists()


def test_bad_input(tmp_path):
    with pytest.raises(ValueError, match="sampling"):
        SampleGIF(tmp_path, sampling="grid")
    with pytest.raises(ValueError, match="frame_duration"):
        SampleGIF(tmp_path, frame_duration=-1)
    with pytest.raises(ValueError, match="every_n_epochs"):
        SampleGIF(tmp_path, every_n_epochs=0)
    with pytest.raises(ValueError, match="every_n_batches"):
        SampleGIF(tmp_path, every_n_batches=1.5)
    with pytest.raises(ValueError, match="filename"):
        SampleGIF(tmp_path, filename="sub/samples.gif")
    for seed in (None, -1, 1.5):
        with pytest.raises(ValueError, match="seed"):
            SampleGIF(tmp_path, seed=seed)
    (tmp_path / "a_file").write_text("")
    with pytest.raises(ValueError, match="Cannot write to the output folder"):
        SampleGIF(tmp_path / "a_file")


def test_a_fitted_sampler_supplies_the_codes(tmp_path, train, read_gif):
    first = SampleGIF(tmp_path / "first", grid_size=2)
    # A small learning rate: the large default can collapse the encoder
    # to one code, which the mixture refuses.
    model, _ = train([first], epochs=1, latent_dim=3, learning_rate=1e-3)
    sampler = kvae.samplers.GaussianMixtureSampler(2).fit(
        model, make_images(40), verbose=0
    )
    callback = SampleGIF(tmp_path, grid_size=(2, 3), sampler=sampler, seed=5)
    model.fit(
        make_images(32, seed=1),
        epochs=2,
        batch_size=16,
        callbacks=[callback],
        verbose=0,
    )
    np.testing.assert_allclose(
        callback.latent_points, sampler.sample_latent(6, seed=5)
    )
    frames, _ = read_gif(tmp_path / "samples.gif")
    assert len(frames) == 2
    with pytest.raises(ValueError, match="kvae.samplers sampler"):
        SampleGIF(tmp_path, sampler="gmm")
