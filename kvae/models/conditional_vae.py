"""`kvae.ConditionalVAE`: a VAE whose encoder and decoder see a class label."""

import contextlib
import inspect

import keras
import numpy as np
from keras import ops

from kvae import priors
from kvae import validation
from kvae.layers.label_conditioning import build_conditioning
from kvae.models import labels as label_checks
from kvae.vae import VAE


class _Condition:
    """The label embedding of the batch being computed. The step's
    unpacking or an inference method sets it; `call_encoder` and
    `call_decoder` read it. A plain object, so Keras does not track it."""

    value = None

    def given(self, condition):
        """A context in which the value is `condition`, then restored."""
        return _Given(self, condition)


class _Given:
    # A class, not a generator: TensorFlow's AutoGraph converts the
    # compiled inference functions that enter it.
    def __init__(self, slot, condition):
        self.slot, self.condition, self.previous = slot, condition, None

    def __enter__(self):
        self.previous = self.slot.value
        self.slot.value = self.condition

    def __exit__(self, *exc_info):
        self.slot.value = self.previous


@keras.saving.register_keras_serializable(package="kvae")
class ConditionalVAE(VAE):
    """A conditional VAE: `q(z | x, y)`, `p(x | z, y)` and the prior `p(z)`.

    The class label `y` of each image is given to the encoder and to the
    decoder as a one-hot vector, the `condition` keyword of their `call`.
    kvae's encoders and decoders (`ConvEncoder`, `ConvDecoder`,
    `ResidualEncoder`, `ResidualDecoder`, `MLPEncoder`, `MLPDecoder`)
    take it as they are and mix it into every stage with a per-channel
    scale and bias (`kvae.layers.LabelConditioning`). A layer of your own
    receives it through the same contract: `call(self, inputs,
    condition=None, training=None)`, with `condition` a float tensor
    `(batch, num_classes)`.

    The loss is the negative conditional ELBO,
    `E_q[-log p(x | z, y)] + beta * KL(q(z | x, y) || p(z))`, an upper
    bound on `-log p(x | y)`. Everything else is `kvae.VAE`'s: the same
    train steps on every backend, likelihoods, priors (all but the
    `VampPrior`, whose pseudo-inputs have no label), objectives, saving and
    cross-backend loading. `fit` and `evaluate` take `(images, labels)`:
    two arrays, a `tf.data.Dataset` or `keras.utils.PyDataset` of pairs,
    or a torch `DataLoader` of pairs. Labels are class indices `(n,)` (or
    one-hot rows); they are checked before the first step. `encode`,
    `decode`, `reconstruct`, `sample` and `log_importance_weights` take
    `labels=` (one int for all images, or one per image), and
    `kvae.evaluation`'s functions a `labels=` argument.

    Args:
        encoder: `keras.Layer` mapping `(images, condition=...)` to
            `(z_mean, z_log_var)`.
        decoder: `keras.Layer` mapping `(z, condition=...)` to the image's
            logits or mean.
        num_classes: int. Number of classes, at least 2.
        **kwargs: the other arguments of `kvae.VAE`.

    Example:

    ```python
    model = kvae.ConditionalVAE(
        kvae.layers.ConvEncoder(latent_dim=8),
        kvae.layers.ConvDecoder(output_shape=(28, 28, 1)),
        num_classes=10,
    )
    model.compile(optimizer="adam")
    model.fit(x, y, epochs=1, batch_size=64)
    sevens = model.sample(8, labels=7)
    ```

    Reference:
    - [Sohn, Lee and Yan, 2015](https://papers.nips.cc/paper/5775)
    - [Kingma et al., 2014](https://arxiv.org/abs/1406.5298) (M2)
    """

    # Read by kvae.evaluation: the labels of pairs are this model's input.
    conditional = True

    def __init__(self, encoder, decoder, num_classes, **kwargs):
        num_classes = label_checks.check_num_classes(num_classes)
        for role, layer in (("encoder", encoder), ("decoder", decoder)):
            _check_takes_condition(layer, role)
        prior = priors.get(kwargs.pop("prior", "standard_normal"))
        _check_labelled_prior(prior, num_classes)
        if prior.needs_encoder:
            raise ValueError(
                f"A ConditionalVAE cannot use the {type(prior).__name__}: "
                "its pseudo-inputs have no label to give the encoder. Use "
                "'standard_normal' or 'mixture_of_gaussians'."
            )
        super().__init__(encoder, decoder, prior=prior, **kwargs)
        self.num_classes = num_classes
        self.condition = _Condition()
        self._pending = None

    # ------------------------------------------------------------------
    # The label reaches the layers.
    # ------------------------------------------------------------------
    def unpack_images(self, data):
        # Every backend's train and test step unpacks its batch here, so
        # the labels are set for the ELBO computed next in the same step.
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        if y is None:
            label_checks.check_labels(None, self.num_classes)
        self.condition.value = self._one_hot(y)
        return x

    def train_step(self, *args):
        # `(data)` or, under JAX, `(state, data)`: the labels set while
        # unpacking the batch hold for this step only.
        with self.condition.given(None):
            return super().train_step(*args)

    def test_step(self, *args):
        with self.condition.given(None):
            return super().test_step(*args)

    def call(self, inputs, training=False):
        if self.condition.value is None:
            # Keras traces the model on images alone (to build compiled
            # metrics): a zero condition has the right shapes. Use
            # `reconstruct(x, labels)` for reconstructions.
            rows = ops.shape(inputs)[0]
            zeros = ops.zeros((rows, self.num_classes), dtype="float32")
            with self.condition.given(zeros):
                return super().call(inputs, training=training)
        return super().call(inputs, training=training)

    def _one_hot(self, labels):
        """Class indices `(n,)` or `(n, 1)`, or one-hot rows, as float32
        one-hot rows `(n, num_classes)`."""
        labels = ops.convert_to_tensor(labels)
        if len(labels.shape) == 2 and labels.shape[-1] == self.num_classes:
            return ops.cast(labels, "float32")
        labels = ops.reshape(ops.cast(labels, "int32"), (-1,))
        return ops.one_hot(labels, self.num_classes, dtype="float32")

    def call_encoder(self, x, training=False):
        condition = self.labels_for(x)
        return self.encoder(x, condition=condition, training=training)

    def call_decoder(self, z, training=False):
        condition = self.labels_for(z)
        return self.decoder(z, condition=condition, training=training)

    def labels_for(self, tensor):
        """The one-hot labels `(rows, num_classes)` of the batch being
        computed, one row per row of `tensor`: what the encoder, the
        decoder and a prior `p(z | y)` receive."""
        condition = self.condition.value
        if condition is None and self._pending is not None:
            # An eager draw from the prior within sample(labels=...).
            condition = ops.convert_to_tensor(self._pending)
        if condition is None:
            label_checks.check_labels(None, self.num_classes)
        rows, labelled = tensor.shape[0], condition.shape[0]
        if isinstance(condition, keras.KerasTensor) or (
            rows is not None and rows == labelled
        ):
            return condition
        # Several codes per image (num_samples, importance weights), or
        # torch's doubled batch of one: the rows repeat the batch
        # sample-major, and so do the labels.
        repeats = ops.shape(tensor)[0] // ops.shape(condition)[0]
        return ops.tile(condition, [repeats, 1])

    def build_latent_path(self, image_shape):
        condition = keras.KerasTensor((None, self.num_classes))
        with self.condition.given(condition):
            latent_dim = super().build_latent_path(image_shape)
        for layer in (self.encoder, self.decoder):
            build_conditioning(layer, self.num_classes)
        return latent_dim

    # ------------------------------------------------------------------
    # Data with labels: checked before Keras starts.
    # ------------------------------------------------------------------
    def fit(self, x=None, y=None, validation_data=None, **kwargs):
        x, y = self._check_labelled(x, y, "training data")
        if validation_data is not None:
            if isinstance(validation_data, tuple) and len(validation_data) > 1:
                self._check_labelled(*validation_data[:2], "validation_data")
            else:
                validation_data = self._check_labelled(
                    validation_data, None, "validation_data"
                )[0]
        return super().fit(x, y, validation_data=validation_data, **kwargs)

    def evaluate(self, x=None, y=None, **kwargs):
        x, y = self._check_labelled(x, y, "evaluation data")
        return super().evaluate(x, y, **kwargs)

    def predict(self, x, *args, **kwargs):
        raise ValueError(
            "predict() cannot pass labels to a ConditionalVAE; use "
            "reconstruct(x, labels) or sample(n, labels=...)."
        )

    def check_labels_given(self, labels, what):
        # `_check_labelled` has checked them, with their images.
        del labels, what

    def _check_labelled(self, x, y, what):
        """`(x, y)` after checking the labels of the data (of its first
        batch, for a dataset or generator) against `num_classes` and the
        number of images; `fit((images, labels))` becomes `fit(images,
        labels)`. Raises `ValueError` when there are no labels."""
        if y is None and isinstance(x, tuple) and len(x) == 2:
            x, y = x
        first, x = validation.peek_generator(x)
        batch = (x, y) if y is not None else (x if first is None else first)
        images = validation.peek_images(batch)
        labels = label_checks.peek_labels(batch)
        count = None if images is None else len(images)
        label_checks.check_labels(
            labels, self.num_classes, count, f"labels of the {what}"
        )
        return x, y

    # ------------------------------------------------------------------
    # Inference with labels.
    # ------------------------------------------------------------------
    @contextlib.contextmanager
    def _given_labels(self, labels, count, what):
        """Within this context the inference methods use `labels` (one
        int, or one label per image) for `count` images."""
        if labels is None and self._pending is not None:
            yield  # an inference method inside another: its labels hold
            return
        indices = label_checks.check_labels(
            label_checks.label_list(labels, count),
            self.num_classes,
            count,
            f"labels given to {what}",
        )
        self._pending = np.eye(self.num_classes, dtype="float32")[indices]
        try:
            yield
        finally:
            self._pending = None

    def inference_function(self, name, fn):
        def given_condition(*args):
            *inputs, condition = args
            with self.condition.given(condition):
                return fn(*inputs)

        compiled = super().inference_function(
            f"{name} given labels", given_condition
        )

        def run(*args):
            if self._pending is None:
                label_checks.check_labels(None, self.num_classes)
            return compiled(*args, self._pending)

        return run

    def encode(self, x, labels=None):
        """Posterior parameters `(z_mean, z_log_var)` of `q(z | x, y)`."""
        with self._given_labels(labels, label_checks.row_count(x), "encode()"):
            return super().encode(x)

    def decode(self, z, labels=None):
        """Mean image of `p(x | z, y)` for codes `z` and labels `y`."""
        with self._given_labels(labels, label_checks.row_count(z), "decode()"):
            return super().decode(z)

    def reconstruct(self, x, labels=None):
        """The decoded posterior mean, given each image's label."""
        with self._given_labels(
            labels, label_checks.row_count(x), "reconstruct()"
        ):
            return super().reconstruct(x)

    def sample(self, n, labels=None, seed=None, temperature=1.0):
        """Decodes `n` draws from the prior (`p(z)`, or `p(z | y)`) with
        `labels`.

        Args:
            n: int. Number of images.
            labels: int (the class of every image) or `n` labels.
            seed: int or `None`. See `kvae.VAE.sample`.
            temperature: float. Scales the prior's standard deviation.

        Returns:
            Tensor `(n, *image_shape)` of mean images.
        """
        self.check_sample_count(n)
        with self._given_labels(labels, n, "sample()"):
            return super().sample(n, seed=seed, temperature=temperature)

    def sample_latent(self, n, seed=None, temperature=1.0, labels=None):
        """Draws `n` codes from the prior; see `kvae.VAE.sample_latent`.
        A prior `p(z | y)` (`kvae.priors.ClassGaussian`) needs `labels`
        (one int, or `n` labels); the same `seed` then draws the same
        noise for every label, so codes of different classes correspond."""
        if labels is None and not getattr(self.prior, "needs_labels", False):
            return super().sample_latent(n, seed, temperature)
        self.check_sample_count(n)
        with self._given_labels(labels, n, "sample_latent()"):
            return super().sample_latent(n, seed, temperature)

    def log_importance_weights(self, x, eps, labels=None):
        """`log p(x | z, y) + log p(z) - log q(z | x, y)`; see
        `kvae.VAE.log_importance_weights`."""
        with self._given_labels(
            labels, label_checks.row_count(x), "log_importance_weights()"
        ):
            return super().log_importance_weights(x, eps)

    def get_config(self):
        config = super().get_config()
        config["num_classes"] = self.num_classes
        return config


def _check_labelled_prior(prior, num_classes):
    """A prior `p(z | y)` gets the model's number of classes, or must
    have it already."""
    if not getattr(prior, "needs_labels", False):
        return
    if prior.num_classes is None:
        prior.num_classes = num_classes
    elif prior.num_classes != num_classes:
        raise ValueError(
            f"The {type(prior).__name__} prior has {prior.num_classes} "
            f"classes but the model has {num_classes}: give the prior "
            "num_classes=None (it takes the model's) or the same number."
        )


def _check_takes_condition(layer, role):
    """The layer's `call` takes the `condition` keyword (or `**kwargs`)."""
    parameters = inspect.signature(layer.call).parameters
    if "condition" in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    ):
        return
    raise TypeError(
        f"The {role} of a ConditionalVAE receives the labels as "
        f"call(..., condition=...), but {type(layer).__name__}.call takes "
        "no `condition`. kvae.layers' encoders and decoders take it; for "
        "your own layer, add `condition=None` to `call` (a float tensor "
        "(batch, num_classes)) and mix it in, for example with "
        "kvae.layers.LabelConditioning."
    )
