import numpy as np
import pytest

from kvae.callbacks import InterpolationGIF
from kvae.callbacks._frames import LABEL_HEIGHT
from kvae.callbacks.interpolation_gif import interpolate


def test_written_at_the_end_there_and_back(
    tmp_path, train, images, read_gif, probe
):
    path = tmp_path / "interpolation.gif"
    callback = InterpolationGIF(
        images,
        tmp_path,
        grid_size=(2, 3),
        steps=5,
        method="spherical",
        frame_duration=0.1,
        end_pause=0.5,
    )
    seen = []
    train([callback, probe(lambda e: seen.append(path.exists()))], epochs=2)

    assert seen == [False, False]  # only at the end of training
    frames, durations = read_gif(path)
    assert frames.shape == (8, LABEL_HEIGHT + 8 + 2 * 48 + 2, 8 + 3 * 48 + 4, 3)
    # t = 0, .25, .5, .75, 1, .75, .5, .25; both ends held longer.
    assert durations == [0.5, 0.1, 0.1, 0.1, 0.5, 0.1, 0.1, 0.1]
    for i in range(1, 4):
        np.testing.assert_array_equal(frames[i], frames[8 - i])
    for i in range(4):
        assert not np.array_equal(frames[i], frames[i + 1])


def test_rewritten_every_n_epochs(tmp_path, train, images, read_gif, probe):
    path = tmp_path / "interpolation.gif"
    callback = InterpolationGIF(
        images, tmp_path, grid_size=1, steps=3, every_n_epochs=1
    )
    seen = []
    train(
        [
            callback,
            probe(lambda e: seen.append(read_gif(path)[0])),
        ],
        epochs=2,
    )
    assert [len(f) for f in seen] == [4, 4]
    assert not np.array_equal(seen[0], seen[1])
    np.testing.assert_array_equal(read_gif(path)[0], seen[1])


def test_interpolate():
    z_a = np.array([[3.0, 0.0], [1.0, 1.0]], "float32")
    z_b = np.array([[0.0, 3.0], [-1.0, -1.0]], "float32")
    t = np.linspace(0, 1, 5)
    linear = interpolate(z_a, z_b, t, "linear")
    assert linear.shape == (5, 2, 2)
    np.testing.assert_allclose(linear[0], z_a)
    np.testing.assert_allclose(linear[-1], z_b)
    np.testing.assert_allclose(linear[2, 0], [1.5, 1.5])
    slerp = interpolate(z_a, z_b, t, "spherical")
    np.testing.assert_allclose(slerp[0], z_a, atol=1e-6)
    np.testing.assert_allclose(slerp[-1], z_b, atol=1e-6)
    # Along the arc between codes of equal norm, the norm stays.
    np.testing.assert_allclose(np.linalg.norm(slerp[:, 0], axis=-1), 3.0)
    # Opposite codes have no unique arc: fall back to the straight line.
    np.testing.assert_allclose(slerp[:, 1], linear[:, 1], atol=1e-6)


def test_pairs(tmp_path, train, images):
    callback = InterpolationGIF(
        images, tmp_path, grid_size=(1, 2), pairs=[(0, 5), (7, 63)]
    )
    np.testing.assert_array_equal(callback.images, images[[0, 7, 5, 63]])


def test_bad_input(tmp_path, images):
    with pytest.raises(ValueError, match="holds 10 images, but 16"):
        InterpolationGIF(images[:10], tmp_path, grid_size=(2, 4))
    with pytest.raises(ValueError, match="holds 64 images, but 65"):
        InterpolationGIF(images, tmp_path, grid_size=1, pairs=[(0, 64)])
    with pytest.raises(ValueError, match="one \\(i, j\\) pair per grid cell"):
        InterpolationGIF(images, tmp_path, grid_size=2, pairs=[(0, 1)])
    with pytest.raises(ValueError, match="method"):
        InterpolationGIF(images, tmp_path, method="cubic")
    with pytest.raises(ValueError, match="steps"):
        InterpolationGIF(images, tmp_path, steps=1)
    (tmp_path / "a_file").write_text("")
    with pytest.raises(ValueError, match="Cannot write to the output folder"):
        InterpolationGIF(images, tmp_path / "a_file")
