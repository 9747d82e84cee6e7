import keras
import numpy as np
import pytest
from skimage.metrics import structural_similarity

from kvae.metrics import SSIM
from tests.helpers import mnist_images
from tests.metrics.checks import check_inside_compiled_evaluate
from tests.metrics.checks import check_stateless_update


def _mnist_test_images(shared_data, n):
    return mnist_images(shared_data, n, split="test")[..., 0]


def _perturbed(x, seed=0):
    rng = np.random.default_rng(seed)
    noisy = x + rng.normal(0.0, 0.1, x.shape)
    return np.clip(noisy, 0.0, 1.0).astype("float32")


def _skimage_ssim(x, y, **kwargs):
    return np.mean(
        [
            structural_similarity(
                a,
                b,
                gaussian_weights=True,
                sigma=1.5,
                use_sample_covariance=False,
                data_range=1.0,
                **kwargs,
            )
            for a, b in zip(x, y)
        ]
    )


def test_agrees_with_scikit_image_on_mnist(shared_data):
    x = _mnist_test_images(shared_data, 48)
    y = _perturbed(x)
    expected = _skimage_ssim(x, y)
    assert 0.5 < expected < 0.95  # not trivially 1

    metric = SSIM()
    # Uneven batches: the result is the mean over images, not batches.
    metric.update_state(x[:32, ..., None], y[:32, ..., None])
    metric.update_state(x[32:, ..., None], y[32:, ..., None])
    np.testing.assert_allclose(float(metric.result()), expected, atol=1e-3)

    metric.reset_state()
    metric.update_state(x[..., None], x[..., None])
    np.testing.assert_allclose(float(metric.result()), 1.0, atol=1e-5)


def test_agrees_with_scikit_image_on_rgb(shared_data):
    x = _mnist_test_images(shared_data, 24).reshape(8, 3, 28, 28)
    x = np.moveaxis(x, 1, -1)
    y = _perturbed(x, seed=1)
    expected = _skimage_ssim(x, y, channel_axis=-1)

    metric = SSIM()
    metric.update_state(x, y)
    np.testing.assert_allclose(float(metric.result()), expected, atol=1e-3)


def test_sample_weight_weights_images():
    rng = np.random.default_rng(0)
    x = rng.random((4, 16, 16, 1)).astype("float32")
    y = _perturbed(x)
    per_image = [SSIM() for _ in range(4)]
    for i, m in enumerate(per_image):
        m.update_state(x[i : i + 1], y[i : i + 1])
    values = np.array([float(m.result()) for m in per_image])
    weights = np.array([1.0, 0.0, 2.0, 1.0], "float32")

    metric = SSIM()
    metric.update_state(x, y, sample_weight=weights)
    expected = np.sum(values * weights) / np.sum(weights)
    np.testing.assert_allclose(float(metric.result()), expected, atol=1e-5)


def test_inside_compiled_evaluate(shared_data):
    x = _mnist_test_images(shared_data, 40)[..., None]
    y = _perturbed(x)
    expected = _skimage_ssim(x[..., 0], y[..., 0])
    check_inside_compiled_evaluate(SSIM(), x, y, expected)


def test_stateless_update_in_a_jitted_step(shared_data):
    x = _mnist_test_images(shared_data, 24)[..., None]
    y = _perturbed(x)
    expected = _skimage_ssim(x[..., 0], y[..., 0])
    check_stateless_update(SSIM(), x, y, expected)


def test_config_round_trip():
    metric = SSIM(
        max_val=255.0,
        filter_size=7,
        filter_sigma=1.0,
        k1=0.02,
        k2=0.04,
        name="my_ssim",
    )
    config = metric.get_config()
    restored = SSIM.from_config(config)
    assert restored.get_config() == config
    for key in ("max_val", "filter_size", "filter_sigma", "k1", "k2"):
        assert config[key] == getattr(metric, key)

    serialized = keras.saving.serialize_keras_object(metric)
    restored = keras.saving.deserialize_keras_object(serialized)
    assert isinstance(restored, SSIM)
    assert restored.get_config() == config


def test_bad_input():
    with pytest.raises(ValueError, match="odd"):
        SSIM(filter_size=4)
    metric = SSIM()
    with pytest.raises(ValueError, match="batch, height, width"):
        metric.update_state(np.zeros((28, 28, 1)), np.zeros((28, 28, 1)))
    with pytest.raises(ValueError, match="smaller than the SSIM window"):
        metric.update_state(np.zeros((2, 8, 8, 1)), np.zeros((2, 8, 8, 1)))
    with pytest.raises(ValueError, match="same shape"):
        metric.update_state(np.zeros((2, 16, 16, 1)), np.zeros((2, 16, 16, 3)))
