import os

import numpy as np
import pytest

from kvae.callbacks import ReconstructionGIF
from kvae.callbacks._frames import LABEL_HEIGHT


def test_one_frame_per_epoch(tmp_path, train, images, read_gif):
    callback = ReconstructionGIF(
        images, tmp_path, grid_size=(2, 4), frame_duration=0.2, end_pause=1.0
    )
    train([callback], images=images, epochs=3)

    assert sorted(os.listdir(tmp_path)) == ["reconstructions.gif"]
    frames, durations = read_gif(tmp_path / "reconstructions.gif")
    # 16x16 images upscaled 3x; 4 image rows (originals, reconstructions,
    # originals, reconstructions) of 4 cells, gaps of 2 (6 between pairs),
    # margins of 4 and a caption strip.
    assert frames.shape == (3, LABEL_HEIGHT + 8 + 4 * 48 + 10, 206, 3)
    assert durations == [0.2, 0.2, 1.0]
    grids = frames[:, LABEL_HEIGHT:].astype("int32")
    # Image rows start at y = 4, 54, 108 and 158.
    originals = np.concatenate([grids[:, 4:52], grids[:, 108:156]], axis=1)
    reconstructions = np.concatenate(
        [grids[:, 54:102], grids[:, 158:206]], axis=1
    )
    # The originals stay; the reconstructions change as the model learns.
    assert np.array_equal(originals[0], originals[-1])
    assert not np.array_equal(reconstructions[0], reconstructions[1])
    assert not np.array_equal(reconstructions[1], reconstructions[2])
    # The captions differ (epoch 1/3, 2/3, 3/3).
    captions = frames[:, :LABEL_HEIGHT]
    assert not np.array_equal(captions[0], captions[1])


def test_every_n_batches_and_every_n_epochs(tmp_path, train, images, read_gif):
    by_batches = ReconstructionGIF(
        images,
        tmp_path,
        grid_size=(1, 2),
        every_n_batches=3,
        filename="batches.gif",
    )
    by_epochs = ReconstructionGIF(
        images,
        tmp_path,
        grid_size=(1, 2),
        every_n_epochs=2,
        scale=1,
        filename="epochs.gif",
    )
    # 64 images in batches of 16: 4 steps an epoch, 12 in all.
    train([by_batches, by_epochs], images=images, epochs=3)
    frames, _ = read_gif(tmp_path / "batches.gif")
    assert len(frames) == 4  # steps 3, 6, 9, 12
    frames, _ = read_gif(tmp_path / "epochs.gif")
    assert len(frames) == 1  # epoch 2
    assert frames.shape[1:3] == (LABEL_HEIGHT + 8 + 2 * 16 + 2, 8 + 34)


def test_rgb_frames_keep_colour(tmp_path, train, read_gif):
    images = np.zeros((8, 16, 16, 3), "float32")
    images[..., 0] = 1.0  # pure red
    callback = ReconstructionGIF(images, tmp_path, grid_size=(1, 4))
    train([callback], images=images, epochs=1)
    frames, _ = read_gif(tmp_path / "reconstructions.gif")
    first_cell = frames[0, LABEL_HEIGHT + 4 : LABEL_HEIGHT + 52, 4:52]
    np.testing.assert_array_equal(first_cell[0, 0], [255, 0, 0])


def test_bad_input(tmp_path, images):
    with pytest.raises(ValueError, match="holds 8 images, but 16"):
        ReconstructionGIF(images[:8], tmp_path, grid_size=(2, 8))
    with pytest.raises(ValueError, match="channels"):
        ReconstructionGIF(images[..., 0], tmp_path)
    with pytest.raises(ValueError, match="grid_size"):
        ReconstructionGIF(images, tmp_path, grid_size=(0, 4))
    with pytest.raises(ValueError, match="scale"):
        ReconstructionGIF(images, tmp_path, scale=0)
    with pytest.raises(ValueError, match="value_range"):
        ReconstructionGIF(images, tmp_path, value_range=(1.0, 0.0))
    (tmp_path / "a_file").write_text("")
    with pytest.raises(ValueError, match="Cannot write to the output folder"):
        ReconstructionGIF(images, tmp_path / "a_file" / "gifs")
