import keras
import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio

from kvae.metrics import PSNR
from tests.helpers import mnist_images
from tests.metrics.checks import check_inside_compiled_evaluate
from tests.metrics.checks import check_stateless_update


def _mnist_test_images(shared_data, n):
    return mnist_images(shared_data, n, split="test")[..., 0]


def _perturbed(x, seed=0):
    rng = np.random.default_rng(seed)
    # Different noise levels per image, so a batch-pooled PSNR would differ
    # from the mean of per-image PSNR.
    scale = rng.uniform(0.02, 0.3, (len(x),) + (1,) * (x.ndim - 1))
    noisy = x + scale * rng.normal(0.0, 1.0, x.shape)
    return np.clip(noisy, 0.0, 1.0).astype("float32")


def _skimage_psnr(x, y):
    return np.mean(
        [peak_signal_noise_ratio(a, b, data_range=1.0) for a, b in zip(x, y)]
    )


def test_agrees_with_scikit_image_on_mnist(shared_data):
    x = _mnist_test_images(shared_data, 48)
    y = _perturbed(x)
    expected = _skimage_psnr(x, y)
    pooled = 10 * np.log10(1.0 / np.mean((x - y) ** 2))
    assert abs(pooled - expected) > 0.1  # the test tells the two apart

    metric = PSNR()
    metric.update_state(x[:32, ..., None], y[:32, ..., None])
    metric.update_state(x[32:, ..., None], y[32:, ..., None])
    np.testing.assert_allclose(float(metric.result()), expected, atol=1e-3)


def test_max_val():
    x = np.full((2, 8, 8, 3), 100.0, "float32")
    metric = PSNR(max_val=255.0)
    metric.update_state(x, x + 10.0)
    np.testing.assert_allclose(
        float(metric.result()), 20 * np.log10(255.0 / 10.0), atol=1e-3
    )


def test_sample_weight_and_reset():
    x = np.full((2, 8, 8, 1), 0.5, "float32")
    y = x + np.array([0.1, 0.01], "float32")[:, None, None, None]
    metric = PSNR()
    metric.update_state(x, y, sample_weight=np.array([3.0, 1.0]))
    np.testing.assert_allclose(
        float(metric.result()), (3 * 20.0 + 40.0) / 4, atol=1e-3
    )
    metric.reset_state()
    assert float(metric.result()) == 0.0


def test_inside_compiled_evaluate(shared_data):
    x = _mnist_test_images(shared_data, 40)[..., None]
    y = _perturbed(x)
    expected = _skimage_psnr(x[..., 0], y[..., 0])
    check_inside_compiled_evaluate(PSNR(), x, y, expected)


def test_stateless_update_in_a_jitted_step(shared_data):
    x = _mnist_test_images(shared_data, 24)[..., None]
    y = _perturbed(x)
    expected = _skimage_psnr(x[..., 0], y[..., 0])
    check_stateless_update(PSNR(), x, y, expected)


def test_config_round_trip():
    metric = PSNR(max_val=255.0, name="my_psnr")
    config = metric.get_config()
    assert config["max_val"] == 255.0
    assert PSNR.from_config(config).get_config() == config
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(metric)
    )
    assert isinstance(restored, PSNR)
    assert restored.get_config() == config


def test_bad_input():
    metric = PSNR()
    with pytest.raises(ValueError, match="batch, height, width"):
        metric.update_state(np.zeros((8, 8)), np.zeros((8, 8)))
