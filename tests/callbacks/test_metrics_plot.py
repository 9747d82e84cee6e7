import imageio.v3 as iio
import numpy as np
import pytest

from kvae.callbacks import MetricsPlot


def test_plot_updated_every_epoch(tmp_path, train, images, probe):
    path = tmp_path / "metrics.png"
    callback = MetricsPlot(tmp_path, figure_size=(9.0, 6.0))
    seen = []
    train(
        [callback, probe(lambda e: seen.append(iio.imread(path)))],
        images=images,
        epochs=2,
        validation_data=(images[:32],),
    )
    assert len(seen) == 2
    assert seen[0].shape[:2] == (600, 900)  # 9 x 6 inches at 100 dpi
    assert not np.array_equal(seen[0], seen[1])
    for name in ("loss", "reconstruction_loss", "kl_loss", "mse", "ssim"):
        for key in (name, "val_" + name):
            xs, ys = callback.history[key]
            assert xs == [1, 2]
            assert len(ys) == 2
    assert callback._plotted() == list(callback.metrics)


def test_skips_metrics_not_logged(tmp_path, train, images):
    callback = MetricsPlot(tmp_path, every_n_batches=2)
    train([callback], images=images, epochs=1, image_metrics=False)
    assert callback._plotted() == ["loss", "reconstruction_loss", "kl_loss"]
    assert callback.history["loss"][0] == [2, 4]  # steps
    assert (tmp_path / "metrics.png").exists()


def test_unknown_metrics_fail_after_the_first_epoch(tmp_path, train):
    callback = MetricsPlot(tmp_path, metrics=("accuracy",))
    with pytest.raises(ValueError, match="found none of \\['accuracy'\\]"):
        train([callback], epochs=3)
    assert not (tmp_path / "metrics.png").exists()


def test_bad_input(tmp_path):
    with pytest.raises(ValueError, match="metrics"):
        MetricsPlot(tmp_path, metrics=())
    with pytest.raises(ValueError, match="columns"):
        MetricsPlot(tmp_path, columns=0)
    (tmp_path / "a_file").write_text("")
    with pytest.raises(ValueError, match="Cannot write to the output folder"):
        MetricsPlot(tmp_path / "a_file")
