import numpy as np
import pytest

from kvae.callbacks import MetricsPlot
from kvae.callbacks import ReconstructionGIF
from kvae.callbacks import SampleGIF
from kvae.callbacks import TensorBoardImages
from tests.helpers import read_tensorboard


def test_each_epoch_writes_the_newest_grids(tmp_path, train, images):
    reconstructions = ReconstructionGIF(images[:8], tmp_path, (2, 4))
    samples = SampleGIF(tmp_path, grid_size=3)
    log_dir = tmp_path / "tensorboard"
    grids = [reconstructions, samples]
    train(grids + [TensorBoardImages(log_dir, grids)], epochs=3)
    events = read_tensorboard(log_dir / "images")
    assert sorted(events) == ["reconstructions", "samples"]
    for tag, gif in zip(("reconstructions", "samples"), grids):
        steps = [step for step, _ in events[tag]]
        assert steps == [0, 1, 2]
        # Each epoch's image is that epoch's GIF frame, pixel for pixel.
        for (_, image), frame in zip(events[tag], gif.writer.frames):
            np.testing.assert_array_equal(
                image, np.asarray(frame.convert("RGB"))
            )
    # The frames change as the model trains.
    first, last = events["samples"][0][1], events["samples"][-1][1]
    assert not np.array_equal(first, last)


def test_rejects_what_is_not_a_gif_callback(tmp_path):
    with pytest.raises(TypeError, match="kvae GIF callbacks"):
        TensorBoardImages(tmp_path, [MetricsPlot(tmp_path)])
