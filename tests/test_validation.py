"""Every way data reaches a kvae model gets the same checks, before any
training step, with a message that says what to do."""

import keras
import numpy as np
import pytest

import kvae

RNG = np.random.default_rng(0)
X = RNG.random((16, 12, 12, 1)).astype("float32")


def small_vae(**kwargs):
    return kvae.VAE(
        kvae.layers.ConvEncoder(2, filters=(4,), dense_units=8),
        kvae.layers.ConvDecoder((12, 12, 1), filters=(4,), dense_units=8),
        **kwargs,
    )


def compiled(**kwargs):
    model = small_vae(**kwargs)
    model.compile()
    return model


def steps_taken(model):
    return int(keras.ops.convert_to_numpy(model.optimizer.iterations))


def batches(x, size=4):
    for start in range(0, len(x), size):
        yield (x[start : start + size],)


class Images(keras.utils.PyDataset):
    def __init__(self, x):
        super().__init__()
        self.x = x

    @property
    def num_batches(self):
        return len(self.x) // 4

    def __getitem__(self, index):
        return (self.x[index * 4 : (index + 1) * 4],)


def test_generator_is_checked_and_keeps_its_first_batch():
    model = compiled()
    with pytest.raises(ValueError, match=r"8-bit pixels.*/ 255"):
        model.fit(batches(X * 255), epochs=1, verbose=0)
    assert steps_taken(model) == 0
    model = compiled()
    model.fit(batches(X), epochs=1, steps_per_epoch=4, verbose=0)
    # Four batches of four: the peeked batch was trained on too.
    assert steps_taken(model) == 4


def test_py_dataset_is_checked():
    model = compiled()
    with pytest.raises(ValueError, match=r"Bernoulli likelihood needs"):
        model.fit(Images(X * 255), epochs=1, verbose=0)
    assert steps_taken(model) == 0


def test_torch_data_loader_is_checked():
    torch = pytest.importorskip("torch")
    loader = torch.utils.data.DataLoader(
        torch.from_numpy(X * 255), batch_size=4
    )
    with pytest.raises(ValueError, match=r"Bernoulli likelihood needs"):
        compiled().fit(loader, epochs=1, verbose=0)


def test_importance_weighted_nll_checks_its_input():
    model = compiled()
    model.fit(X, epochs=1, batch_size=8, verbose=0)
    iwae = kvae.evaluation.importance_weighted_nll
    with pytest.raises(ValueError, match="Bernoulli likelihood needs"):
        iwae(model, X * 255, num_samples=2)
    nan = X.copy()
    nan[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="1 NaN values"):
        iwae(model, nan, num_samples=2)
    with pytest.raises(ValueError, match=r"built for \(12, 12, 1\)"):
        iwae(model, np.zeros((4, 16, 16, 1), "float32"), num_samples=2)
    with pytest.raises(ValueError, match="Bernoulli likelihood needs"):
        iwae(model, batches(X * 255), num_samples=2)
    assert np.isfinite(iwae(model, X, num_samples=2))


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_non_finite_values_are_rejected_for_every_likelihood(likelihood):
    x = X.copy()
    x[1, 2, 3, 0] = np.inf
    x[2, 2, 3, 0] = -np.inf
    model = compiled(likelihood=likelihood)
    with pytest.raises(ValueError, match="0 NaN values and 2 infinite"):
        model.fit(x, epochs=1, verbose=0)
    assert steps_taken(model) == 0


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_integer_images_get_the_same_advice_for_every_likelihood(likelihood):
    model = compiled(likelihood=likelihood)
    with pytest.raises(
        ValueError, match=r"holds integers \(dtype uint8.*/ 255"
    ):
        model.fit((X * 255).astype("uint8"), epochs=1, verbose=0)
    binary = (X > 0.5).astype("int32")
    with pytest.raises(
        ValueError, match=r"integers.*Convert them with x.astype\('float32'\)"
    ):
        model.fit(binary, epochs=1, verbose=0)
    assert steps_taken(model) == 0


@pytest.mark.parametrize(
    "data, message",
    [
        (np.transpose(X, (0, 3, 1, 2)), r"channels-first.*np.transpose"),
        (X[:, :, :, 0], r"x\[\.\.\., None\].*x\[None\]"),
        (list(X), r"Python list.*np.asarray"),
        (X.tolist(), r"Python list.*np.asarray"),
        (X[:0], "holds no images"),
    ],
)
def test_bad_layouts_say_how_to_fix_them(data, message):
    model = compiled()
    with pytest.raises(ValueError, match=message):
        model.fit(data, epochs=1, verbose=0)


@pytest.mark.parametrize(
    "validation_data, message",
    [
        (list(X), r"validation_data is a Python list of 16 items"),
        (list(X[:2]), r"validation_data is a Python list of 2 items"),
        ([X], r"validation_data is a Python list of 1 items"),
        (X.tolist(), r"validation_data is a Python list of 16 items"),
        ((X.tolist(),), r"validation_data\[0\] is a Python list.*asarray"),
        ((list(X), None), r"validation_data\[0\] is a Python list"),
        (tuple(X), r"validation_data is a tuple of 16 items"),
        ((), r"validation_data is a tuple of 0 items"),
    ],
)
def test_validation_data_as_python_lists(validation_data, message):
    model = compiled()
    with pytest.raises(ValueError, match=message) as error:
        model.fit(X, validation_data=validation_data, epochs=1, verbose=0)
    assert "np.asarray(images, dtype='float32')" in str(error.value)
    assert steps_taken(model) == 0


@pytest.mark.parametrize(
    "validation_data", [X[:8], (X[:8],), (X[:8], X[:8]), (X[:8], None)]
)
def test_validation_data_as_keras_takes_it(validation_data):
    model = compiled()
    history = model.fit(
        X, validation_data=validation_data, epochs=1, batch_size=8, verbose=0
    )
    assert steps_taken(model) == 2
    assert np.isfinite(history.history["val_loss"][0])


def test_tf_data_of_dicts():
    tf = pytest.importorskip("tensorflow")
    data = tf.data.Dataset.from_tensor_slices({"image": X}).batch(4)
    with pytest.raises(ValueError, match=r"not a dict.*d\['image'\]"):
        compiled().fit(data, epochs=1, verbose=0)


def test_inference_on_another_image_size():
    model = compiled()
    model.fit(X, epochs=1, batch_size=8, verbose=0)
    other = np.zeros((2, 16, 16, 1), "float32")
    for call in (model.predict, model.encode, model.reconstruct):
        with pytest.raises(ValueError, match=r"built for \(12, 12, 1\)"):
            call(other)


@pytest.mark.parametrize("n", [0, -1, 2.5, "3"])
def test_sample_needs_a_positive_count(n):
    model = compiled()
    model.build(X.shape)
    with pytest.raises(ValueError, match="positive int number of images"):
        model.sample(n)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"kl_warmup_steps": 0.5}, r"kl_warmup_steps` must be an int"),
        ({"kl_warmup_steps": 10.7}, r"kl_warmup_steps` must be an int"),
        ({"beta": "0.5"}, r"`beta` must be a finite number.*\(str\)"),
        ({"beta": float("nan")}, r"`beta` must be a finite number"),
        ({"num_samples": 2.0}, r"`num_samples` must be an int"),
        ({"free_bits": "1"}, r"`free_bits` must be a finite number"),
        ({"sigma": "0.1"}, r"`sigma` must be 'learned', 'optimal' or a finite"),
        ({"image_metrics_batch": 0}, r"`image_metrics_batch` must be"),
        ({"max_val": "1"}, r"`max_val` must be a finite number > 0"),
    ],
)
def test_arguments_of_the_wrong_type(kwargs, message):
    with pytest.raises(ValueError, match=message):
        small_vae(**kwargs)


def test_images_too_small_for_the_image_metrics():
    model = kvae.VAE(
        kvae.layers.MLPEncoder(2), kvae.layers.MLPDecoder((8, 8, 1))
    )
    model.compile()
    with pytest.raises(
        ValueError, match=r"at least 11 pixels.*image_metrics=False"
    ):
        model.fit(np.zeros((4, 8, 8, 1), "float32"), verbose=0)
    plain = kvae.VAE(
        kvae.layers.MLPEncoder(2),
        kvae.layers.MLPDecoder((8, 8, 1)),
        image_metrics=False,
    )
    plain.compile()
    plain.fit(np.zeros((4, 8, 8, 1), "float32"), verbose=0)
