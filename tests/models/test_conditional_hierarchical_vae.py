"""kvae.ConditionalHierarchicalVAE: the label reaches every group's prior
and posterior and the image; its bound, training, sampling with labels,
saving and label checks; the recipe's --model hierarchical --conditional."""

import keras
import numpy as np
import pytest

import kvae
from kvae import experiment
from kvae.experiment.train import build_model
from kvae.layers.label_conditioning import LabelConditioning
from tests.helpers import randomized
from tests.helpers import tiny_hierarchical_layers
from tests.helpers import to_numpy

SHAPE = (8, 8, 1)
NUM_CLASSES = 3
RNG = np.random.default_rng(0)
X = (RNG.random((24,) + SHAPE) < 0.4).astype("float32")
Y = np.arange(24) % NUM_CLASSES


def model_of(groups=(1, 2), **kwargs):
    kwargs.setdefault("image_metrics", False)
    return kvae.ConditionalHierarchicalVAE(
        *tiny_hierarchical_layers(SHAPE, groups),
        num_classes=NUM_CLASSES,
        seed=0,
        **kwargs,
    )


def path_records(model, label):
    """Every group's prior and posterior means, and the output, of the
    top-down path run at the posterior means with all images given
    `label`."""
    records = []

    def choose(g, prior, posterior):
        records.append(
            [to_numpy(prior[0]) if prior else None, to_numpy(posterior[0])]
        )
        return posterior[0]

    condition = np.eye(NUM_CLASSES, dtype="float32")[np.full(len(X), label)]
    with model.condition.given(keras.ops.convert_to_tensor(condition)):
        features = model.call_encoder(keras.ops.convert_to_tensor(X))
        output = to_numpy(model.top_down(features[0], features, choose))
    return records, output


def test_the_label_reaches_every_group_and_the_image():
    model = randomized(model_of(), SHAPE)
    first, image_a = path_records(model, 0)
    second, image_b = path_records(model, 2)
    assert len(first) == 3
    for g, ((prior_a, post_a), (prior_b, post_b)) in enumerate(
        zip(first, second)
    ):
        assert not np.allclose(post_a, post_b), f"posterior of group {g}"
        if g:  # the top group's prior is the model's p(z)
            assert not np.allclose(prior_a, prior_b), f"prior of group {g}"
    assert not np.allclose(image_a, image_b)


def test_unconditional_layers_hold_no_label_weights():
    model = kvae.HierarchicalVAE(
        *tiny_hierarchical_layers(SHAPE), image_metrics=False
    )
    model.build((None,) + SHAPE)
    stages = [
        layer
        for part in (model.encoder, model.decoder)
        for layer in part._flatten_layers()
        if isinstance(layer, LabelConditioning)
    ]
    assert stages and not any(stage.weights for stage in stages)
    conditional = model_of(groups=(1, 1))
    conditional.build((None,) + SHAPE)
    # One label stage per encoder block and per group, plus the initial
    # state's: (2 + 3) stages of width 8, scale and bias from 3 classes.
    label_weights = len(conditional.weights) - len(model.weights)
    assert label_weights == 2 * (2 + 3)


def test_the_bound_is_the_reconstruction_plus_the_group_kls():
    model = randomized(model_of(), SHAPE)
    model.compile(optimizer="adam")
    logs = model.evaluate(X, Y, batch_size=24, verbose=0, return_dict=True)
    kls = [logs[f"kl_loss_{i}"] for i in (1, 2, 3)]
    np.testing.assert_allclose(logs["kl_loss"], sum(kls), rtol=1e-5)
    np.testing.assert_allclose(
        logs["loss"], logs["reconstruction_loss"] + sum(kls), rtol=1e-5
    )
    # The same images with other labels have another bound.
    other = model.evaluate(
        X, (Y + 1) % NUM_CLASSES, batch_size=24, verbose=0, return_dict=True
    )
    assert abs(other["loss"] - logs["loss"]) > 1e-3


@pytest.fixture(scope="module")
def trained():
    model = model_of(num_samples=2)
    model.compile(optimizer=keras.optimizers.Adam(0.01))
    history = model.fit(X, Y, epochs=4, batch_size=8, verbose=0)
    return model, history.history


def test_it_trains_and_logs_every_group(trained):
    _, logs = trained
    assert logs["loss"][-1] < logs["loss"][0]
    assert {"kl_loss_1", "kl_loss_2", "kl_loss_3"} <= set(logs)


def test_samples_follow_the_labels_and_survive_saving(trained, tmp_path):
    model, _ = trained
    a = to_numpy(model.sample(4, labels=0, seed=3, temperature=0.7))
    b = to_numpy(model.sample(4, labels=1, seed=3, temperature=0.7))
    assert a.shape == (4,) + SHAPE and not np.allclose(a, b)
    labels = [0, 1, 2, 1]
    model.save(tmp_path / "m.keras")
    loaded = kvae.load_model(tmp_path / "m.keras")
    assert type(loaded) is kvae.ConditionalHierarchicalVAE
    np.testing.assert_array_equal(
        to_numpy(model.sample(4, labels=labels, seed=5)),
        to_numpy(loaded.sample(4, labels=labels, seed=5)),
    )
    np.testing.assert_allclose(
        to_numpy(model.reconstruct(X[:4], Y[:4])),
        to_numpy(loaded.reconstruct(X[:4], Y[:4])),
        atol=1e-6,
    )


def test_labels_are_checked_before_any_step():
    model = model_of()
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match="label"):
        model.fit(X, epochs=1, batch_size=8, verbose=0)
    with pytest.raises(ValueError, match=r"must lie in \[0, 2\]"):
        model.fit(X, Y + NUM_CLASSES, epochs=1, batch_size=8, verbose=0)
    assert model.optimizer.iterations == 0
    model.build((None,) + SHAPE)
    with pytest.raises(ValueError, match="temperature"):
        model.sample(2, labels=0, temperature=0.0)


def test_the_recipe_builds_it():
    config = experiment.parse_args(
        experiment.Config(),
        ["--model", "hierarchical", "--conditional", "--width", "8"],
    )
    model = build_model(config, (28, 28, 1), classes=10)
    assert type(model) is kvae.ConditionalHierarchicalVAE
    assert model.num_classes == 10
