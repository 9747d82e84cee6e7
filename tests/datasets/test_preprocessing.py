"""The tf.data stages in kvae/datasets/_pipeline.py."""

import math

import numpy as np
import pytest

from kvae.datasets import _pipeline


@pytest.fixture(scope="module")
def tf():
    import tensorflow

    return tensorflow


def test_rotate_zero_is_identity_and_90_is_rot90(tf):
    images = tf.random.stateless_uniform([2, 7, 7, 3], [1, 2])
    turned = _pipeline.rotate(images, tf.constant([0.0, math.pi / 2]))
    np.testing.assert_allclose(turned[0], images[0], atol=1e-6)
    candidates = [tf.image.rot90(images[1], k) for k in (1, 3)]
    error = min(float(tf.reduce_max(tf.abs(turned[1] - c))) for c in candidates)
    assert error < 1e-4


def test_augment_probabilities(tf):
    n = 1000
    image = tf.reshape(tf.range(16 * 16 * 3, dtype=tf.float32), [16, 16, 3])
    images = tf.repeat(image[None], n, axis=0)
    seed = tf.constant([3, 7], tf.int64)
    out = np.asarray(_pipeline.augment(images, seed))
    same = (out == np.asarray(image)).all(axis=(1, 2, 3))
    flipped = (out == np.asarray(image)[:, ::-1]).all(axis=(1, 2, 3))
    rotated = ~same & ~flipped
    # p(flip) = 0.5 and p(rotate) = 0.3, independent, per image.
    assert abs(flipped.mean() - 0.5 * 0.7) < 0.05
    assert abs(rotated.mean() - 0.3) < 0.05
    assert abs(same.mean() - 0.5 * 0.7) < 0.05
    np.testing.assert_array_equal(out, _pipeline.augment(images, seed))
    other = _pipeline.augment(images, tf.constant([4, 7], tf.int64))
    assert not np.array_equal(out, other)


def test_resize_center_crop(tf):
    wide = np.zeros([50, 100, 1], np.uint8)
    wide[:, 25:75] = 255  # the central square is white
    out = _pipeline.resize_center_crop(tf.constant(wide), 64)
    assert out.shape == (64, 64, 3) and out.dtype == tf.uint8
    assert np.asarray(out)[:, 2:-2].min() == 255
    tall = tf.zeros([300, 120, 3], tf.uint8)
    assert _pipeline.resize_center_crop(tall, 64).shape == (64, 64, 3)


def test_crop_to_box_orders_and_clips(tf):
    image = tf.zeros([100, 200, 3])
    box = tf.constant([0.5, 0.9, 0.1, 0.4])  # min/max swapped
    assert _pipeline.crop_to_box(image, box).shape == (40, 100, 3)
    tiny = tf.constant([1.0, 1.0, 1.0, 1.0])
    assert _pipeline.crop_to_box(image, tiny).shape == (1, 1, 3)


def test_jpeg_decoded_at_reduced_scale(tf):
    big = tf.cast(
        tf.random.stateless_uniform([800, 600, 3], [0, 1]) * 255, tf.uint8
    )
    data = tf.io.encode_jpeg(big)
    assert _pipeline.decode_image_bytes(data, min_side=64).shape == (100, 75, 3)
    assert _pipeline.decode_image_bytes(data, min_side=200).shape == (
        400,
        300,
        3,
    )
    assert _pipeline.decode_image_bytes(data).shape == (800, 600, 3)
    png = tf.io.encode_png(big[:10, :20])
    assert _pipeline.decode_image_bytes(png, min_side=4).shape == (10, 20, 3)
