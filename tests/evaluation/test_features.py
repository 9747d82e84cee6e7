"""The feature spaces: kvae's fixed random network, classifiers, and a
user's own model."""

import os

import keras
import numpy as np
import pytest

import kvae
from kvae.evaluation import features
from kvae.evaluation.classifier import classifier_network
from tests.evaluation.fixed_images import fixed_images

REFERENCE = os.path.join(
    os.path.dirname(__file__), "random_features_reference.npz"
)
# SHA-256 of the default network's weights, by input channels. A change
# here changes every published score: bump RANDOM_FEATURES_VERSION.
WEIGHT_SHA256 = {
    1: "1728c79c8fa85a8776688ea0d898f50d641af58af11d450c85a0e5b3a295437f",
    3: "770e2bf7d1fad09461ce52c576469f9f7cc8420a585fb2547e38be675f1d2e25",
}


@pytest.mark.parametrize("channels", [1, 3])
def test_the_default_weights_do_not_change(channels):
    assert (
        features.random_feature_checksum(channels) == (WEIGHT_SHA256[channels])
    )


@pytest.mark.parametrize("shape", [(28, 28, 1), (64, 64, 3)])
def test_the_default_features_match_the_reference_on_every_backend(shape):
    # The reference was computed under TensorFlow; every backend must give
    # the same features (float32 convolutions in another order: 1e-4).
    expected = np.load(REFERENCE)[f"{shape[0]}x{shape[1]}x{shape[2]}"]
    got = kvae.evaluation.extract_features(fixed_images(shape)).values
    assert got.shape == (4, 480)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_a_users_model_is_the_feature_space():
    x = fixed_images((28, 28, 1), 6)
    flatten = keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten()]
    )
    got = kvae.evaluation.extract_features(x, flatten, batch_size=4)
    np.testing.assert_allclose(got.values, x.reshape(6, -1), rtol=1e-6)
    assert got.model_name == flatten.name


def _train_tiny_classifier(tmp_path, shape, num_classes, seed):
    """Two epochs of a 4-filter classifier on 48 random images whose
    brightness grows with their class (learnable in a few steps), tested
    on 16 more; saved to tmp_path. Returns `(x, model, accuracy, path)`."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, num_classes, 64)
    brightness = 0.5 * y / (num_classes - 1)
    x = rng.random((64, *shape)) * 0.5 + brightness[:, None, None, None]
    path = str(tmp_path / "classifier.keras")
    model, accuracy = kvae.evaluation.train_feature_classifier(
        x[:48],
        y[:48],
        x[48:],
        y[48:],
        num_classes=num_classes,
        path=path,
        epochs=2,
        batch_size=16,
        filters=(4,),
        feature_units=8,
        verbose=0,
    )
    return x, model, accuracy, path


def test_a_classifier_scores_in_its_features_layer(tmp_path):
    x, _, accuracy, path = _train_tiny_classifier(
        tmp_path, (28, 28, 1), 2, seed=0
    )
    assert 0.0 <= accuracy <= 1.0
    extractor = kvae.evaluation.feature_extractor(keras.saving.load_model(path))
    assert kvae.evaluation.extract_features(x, extractor).values.shape == (
        64,
        8,
    )
    y = np.arange(len(x)) % 2
    with pytest.raises(ValueError, match="labels span"):
        kvae.evaluation.train_feature_classifier(
            x, y + 5, x, y, num_classes=2, epochs=1, verbose=0
        )


def _layers(model, kind):
    return [layer for layer in model.layers if isinstance(layer, kind)]


@pytest.mark.parametrize(
    "shape, batch_norm, expected",
    [
        ((16, 16, 3), "auto", 4),
        ((16, 16, 1), "auto", 0),
        ((16, 16, 3), False, 0),
        ((16, 16, 1), True, 4),
    ],
)
def test_rgb_classifiers_batch_normalize_every_conv(
    shape, batch_norm, expected
):
    # Without batch norm the 120-breed dogs classifier stayed at chance;
    # the digit classifiers keep the network their scores were measured in.
    model = classifier_network(shape, 5, (4, 8), 6, batch_norm=batch_norm)
    assert len(_layers(model, keras.layers.BatchNormalization)) == expected
    convs = _layers(model, keras.layers.Conv2D)
    assert len(convs) == 4
    assert all(conv.use_bias == (expected == 0) for conv in convs)


def test_a_batch_normalized_classifier_saves_its_moving_statistics(tmp_path):
    x, model, _, path = _train_tiny_classifier(tmp_path, (16, 16, 3), 3, seed=1)
    norm = _layers(model, keras.layers.BatchNormalization)[0]
    # Training moved the moving mean off its initial zeros.
    assert np.abs(keras.ops.convert_to_numpy(norm.moving_mean)).max() > 0
    extractor = kvae.evaluation.feature_extractor(keras.saving.load_model(path))
    before = kvae.evaluation.extract_features(
        x, kvae.evaluation.feature_extractor(model)
    ).values
    after = kvae.evaluation.extract_features(x, extractor).values
    np.testing.assert_allclose(after, before, rtol=1e-5, atol=1e-6)


def test_batch_norm_takes_only_its_three_values():
    with pytest.raises(ValueError, match="batch_norm must be True, False"):
        classifier_network((16, 16, 3), 5, (4,), 6, batch_norm="yes")
