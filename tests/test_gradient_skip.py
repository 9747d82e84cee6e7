"""Skipped updates (`skip_gradient_norm`): the decision, the count, and
that a skipped update changes nothing."""

import keras
import numpy as np
import pytest

import kvae
from kvae import gradient_skip
from tests.helpers import to_numpy

X = (np.random.default_rng(0).random((64, 12, 12, 1)) < 0.3).astype("float32")


def model(threshold):
    vae = kvae.VAE(
        kvae.layers.ConvEncoder(2, filters=(4,), dense_units=8),
        kvae.layers.ConvDecoder((12, 12, 1), filters=(4,), dense_units=8),
        skip_gradient_norm=threshold,
        image_metrics=False,
        seed=0,
    )
    vae.compile(optimizer=keras.optimizers.Adam(1e-2))
    vae.build((None, 12, 12, 1))
    return vae


@pytest.mark.parametrize(
    "gradients, threshold, allowed",
    [
        ([[3.0], [4.0]], 5.01, True),  # norm 5
        ([[3.0], [4.0]], 4.99, False),
        ([[np.nan], [1.0]], 1e9, False),
        ([[np.inf]], 1e9, False),
    ],
)
def test_the_update_is_allowed_below_the_threshold(
    gradients, threshold, allowed
):
    vae = model(threshold)
    grads = [
        keras.ops.convert_to_tensor(np.array(g, "float32")) for g in gradients
    ]
    assert bool(to_numpy(gradient_skip.update_allowed(vae, grads))) is allowed


def test_every_update_above_the_threshold_is_skipped_and_counted():
    vae = model(1e-6)
    before = [to_numpy(v).copy() for v in vae.trainable_variables]
    logs = vae.fit(X, epochs=2, batch_size=16, verbose=0).history
    # 4 steps per epoch, all skipped: no weight and no optimizer step moved.
    assert logs["skipped_updates"] == [4.0, 8.0]
    assert float(to_numpy(vae.skipped_updates)) == 8.0
    assert int(to_numpy(vae.optimizer.iterations)) == 0
    for variable, value in zip(vae.trainable_variables, before):
        np.testing.assert_array_equal(to_numpy(variable), value)


def test_updates_below_the_threshold_are_applied():
    vae = model(1e9)
    before = [to_numpy(v).copy() for v in vae.trainable_variables]
    logs = vae.fit(X, epochs=1, batch_size=16, verbose=0).history
    assert logs["skipped_updates"] == [0.0]
    assert int(to_numpy(vae.optimizer.iterations)) == 4
    moved = [
        np.abs(to_numpy(v) - b).max()
        for v, b in zip(vae.trainable_variables, before)
    ]
    assert max(moved) > 0


def test_no_count_without_a_threshold():
    vae = model(None)
    logs = vae.fit(X, epochs=1, batch_size=16, verbose=0).history
    assert "skipped_updates" not in logs and vae.skipped_updates is None


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), "10", True])
def test_bad_thresholds(bad):
    with pytest.raises(ValueError, match="skip_gradient_norm must be None"):
        model(bad)
