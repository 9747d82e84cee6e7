from statistics import NormalDist

import numpy as np
import pytest

from kvae.callbacks import SampleGIF
from kvae.callbacks._frames import LABEL_HEIGHT
from kvae.callbacks.sample_gif import manifold_grid


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


def test_fixed_prior_samples_otherwise(tmp_path, train, read_gif):
    callback = SampleGIF(tmp_path, grid_size=2, every_n_batches=2, seed=3)
    train([callback], epochs=1, latent_dim=3)
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
    (tmp_path / "a_file").write_text("")
    with pytest.raises(ValueError, match="Cannot write to the output folder"):
        SampleGIF(tmp_path / "a_file")
