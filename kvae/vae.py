"""`kvae.VAE`: a variational autoencoder with its own `train_step`."""

import math

import keras
import numpy as np
from keras import ops

from kvae import elbo
from kvae.backend import VAETrainer
from kvae.backend import compile_inference
from kvae.metrics import PSNR
from kvae.metrics import SSIM
from kvae.validation import check_images
from kvae.validation import is_tf_dataset
from kvae.validation import peek_images


@keras.saving.register_keras_serializable(package="kvae")
class VAE(VAETrainer, keras.Model):
    """A variational autoencoder trained by maximizing the ELBO.

    The encoder maps images to the mean and log-variance of a diagonal
    Gaussian posterior `q(z | x)`; the decoder maps a latent code `z` to the
    parameters of `p(x | z)`. Training minimizes

        loss = reconstruction_loss + beta * kl_loss
             = E_q[-log p(x | z)] + beta * KL(q(z | x) || N(0, I)),

    which is the negative ELBO when `beta=1`. `z` is drawn with the
    reparameterization `z = mu + exp(0.5 * logvar) * eps`, the KL term is
    analytic, and every loss is summed over pixels and averaged over the
    batch: the numbers are nats per image.

    The custom `train_step`/`test_step` exist for TensorFlow, JAX and
    PyTorch (see `kvae.backend`); the same script runs on each. `fit` logs
    `loss`, `reconstruction_loss` and `kl_loss`, plus `mse`, `ssim` and
    `psnr` of the mean reconstruction when `image_metrics=True`, and any
    `metrics=` given to `compile` (computed on `(x, mean reconstruction)`).

    Args:
        encoder: `keras.Layer` or `keras.Model`. Maps images
            `(batch, *image_shape)` to `(z_mean, z_log_var)`, each
            `(batch, latent_dim)`. See `kvae.layers`.
        decoder: `keras.Layer` or `keras.Model`. Maps `z` to an output of
            the image shape: logits for `likelihood="bernoulli"`, the mean
            image for `likelihood="gaussian"`.
        likelihood: str. `"bernoulli"` (images in [0, 1]) or `"gaussian"`.
        beta: float. Weight of the KL term (`beta`-VAE).
        kl_warmup_steps: int. If positive, the KL weight rises linearly from
            `beta / kl_warmup_steps` to `beta` over this many training steps.
        sigma: float, `"learned"` or `"optimal"`. Standard deviation of
            the Gaussian likelihood: fixed, a trainable scalar (initialized
            at 1), or, with `"optimal"`, its maximum-likelihood value for
            each training batch, the root-mean-square reconstruction error
            of the batch over all pixels (log sigma floored at -6; no
            gradient flows through it, and none would at the optimum).
            `evaluate` and the IWAE bound use a running estimate of it from
            the training batches (the exact mean of the batch variances
            over the first 100 steps, then a moving average with momentum
            0.99), kept in the non-trainable `log_sigma` weight and saved
            with the model. With `"learned"` or `"optimal"`, `fit` logs
            `sigma`. Ignored by the Bernoulli likelihood. See
            docs/concepts.md.
        image_metrics: bool. Track MSE, SSIM and PSNR of the mean
            reconstruction in `fit` and `evaluate`. Set to `False` to skip
            their (small) cost.
        image_metrics_batch: int or `None`. In training steps the image
            metrics are computed on the first `image_metrics_batch` images
            of each batch, an unbiased estimate of their epoch mean at a
            fraction of the cost; `None` uses the whole batch. Validation
            and `evaluate` always use every image.
        max_val: float. Data range for SSIM and PSNR (1.0 for [0, 1] data,
            2.0 for [-1, 1]).
        seed: int or `None`. Seed of the model's `SeedGenerator` for `eps`.

    Example:

    ```python
    import kvae
    import numpy as np

    x = np.random.rand(256, 28, 28, 1).astype("float32")
    model = kvae.VAE(
        kvae.layers.ConvEncoder(latent_dim=2),
        kvae.layers.ConvDecoder(output_shape=(28, 28, 1)),
    )
    model.compile(optimizer="adam")
    model.fit(x, epochs=1, batch_size=64)
    samples = model.sample(16)
    ```

    Reference:
    - [Kingma and Welling, 2013](https://arxiv.org/abs/1312.6114)
    - [Rybkin, Daniilidis and Levine, 2021](https://arxiv.org/abs/2006.13202)
      for `sigma="optimal"`
    """

    def __init__(
        self,
        encoder,
        decoder,
        likelihood="bernoulli",
        beta=1.0,
        kl_warmup_steps=0,
        sigma=1.0,
        image_metrics=True,
        image_metrics_batch=32,
        max_val=1.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if likelihood not in elbo.LIKELIHOODS:
            raise ValueError(
                f"Unknown likelihood {likelihood!r}. Use one of "
                f"{', '.join(repr(n) for n in elbo.LIKELIHOODS)}: 'bernoulli' "
                "for images in [0, 1] (decoder outputs logits), 'gaussian' "
                "for real-valued images (decoder outputs the mean)."
            )
        if beta < 0:
            raise ValueError(f"`beta` must be >= 0, got {beta}.")
        if kl_warmup_steps < 0:
            raise ValueError(
                f"`kl_warmup_steps` must be >= 0, got {kl_warmup_steps}."
            )
        if not (
            sigma in ("learned", "optimal") or (_is_number(sigma) and sigma > 0)
        ):
            raise ValueError(
                "`sigma` must be a positive number, 'learned' or 'optimal', "
                f"got {sigma!r}."
            )
        for role, layer in (("encoder", encoder), ("decoder", decoder)):
            if not isinstance(layer, keras.layers.Layer):
                raise TypeError(
                    f"The {role} must be a keras.Layer or keras.Model, got "
                    f"{type(layer).__name__}. kvae.layers has ready ones."
                )
        latent_dim = getattr(encoder, "latent_dim", None)
        if latent_dim is not None and latent_dim < 1:
            raise ValueError(
                f"latent_dim must be at least 1, got {latent_dim}."
            )
        self.encoder = encoder
        self.decoder = decoder
        self.likelihood = likelihood
        self.beta = float(beta)
        self.kl_warmup_steps = int(kl_warmup_steps)
        self.sigma = sigma
        self.image_metrics = bool(image_metrics)
        self.image_metrics_batch = image_metrics_batch
        self.max_val = float(max_val)
        self.seed = seed
        self.latent_dim = latent_dim
        self.image_shape = None

        self.seed_generator = keras.random.SeedGenerator(seed, name="eps_seed")
        self.sample_seed_generator = keras.random.SeedGenerator(
            None if seed is None else seed + 1, name="sample_seed"
        )
        self.log_sigma = None
        if likelihood == "gaussian":
            self.log_sigma = self.add_weight(
                name="log_sigma",
                shape=(),
                initializer=keras.initializers.Constant(
                    math.log(sigma) if _is_number(sigma) else 0.0
                ),
                trainable=sigma == "learned",
                autocast=False,
            )
        self.sigma_updates = None
        if likelihood == "gaussian" and sigma == "optimal":
            self.sigma_updates = self.add_weight(
                name="sigma_updates",
                shape=(),
                initializer="zeros",
                trainable=False,
                autocast=False,
            )
        self.warmup_step = None
        if self.kl_warmup_steps:
            self.warmup_step = self.add_weight(
                name="kl_warmup_step",
                shape=(),
                initializer="zeros",
                trainable=False,
                autocast=False,
            )

        # Never call a tracker "loss": Keras owns that one (`_loss_tracker`).
        self.reconstruction_loss_tracker = keras.metrics.Mean(
            name="reconstruction_loss"
        )
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")
        self.sigma_tracker = None
        if likelihood == "gaussian" and not _is_number(sigma):
            self.sigma_tracker = keras.metrics.Mean(name="sigma")
        self.image_trackers = []
        if self.image_metrics:
            self.image_trackers = [
                keras.metrics.Mean(name="mse"),
                SSIM(max_val=self.max_val, name="ssim"),
                PSNR(max_val=self.max_val, name="psnr"),
            ]
        self._inference_functions = {}

    # ------------------------------------------------------------------
    # Building, and checking the encoder/decoder contract once.
    # ------------------------------------------------------------------
    def build(self, input_shape):
        input_shape = tuple(input_shape)
        image_shape = tuple(input_shape[1:])
        expected = _declared_input_shape(self.encoder)
        if expected is not None and not _shapes_match(expected, image_shape):
            raise ValueError(
                f"The data has images of shape {image_shape}, but the "
                f"encoder expects {expected}. Resize the data, or build the "
                "encoder for this image shape."
            )
        try:
            encoded = self.encoder(keras.KerasTensor((None,) + image_shape))
        except Exception as error:
            raise ValueError(
                f"The encoder cannot take images of shape {image_shape}: "
                f"{error}"
            ) from error
        if not (isinstance(encoded, (tuple, list)) and len(encoded) == 2):
            raise ValueError(
                "The encoder must return a pair (z_mean, z_log_var), each of "
                f"shape (batch, latent_dim); it returned {encoded}."
            )
        z_mean, z_log_var = encoded
        if len(z_mean.shape) != 2 or tuple(z_mean.shape) != tuple(
            z_log_var.shape
        ):
            raise ValueError(
                "The encoder must return z_mean and z_log_var of the same "
                f"shape (batch, latent_dim); got {z_mean.shape} and "
                f"{z_log_var.shape}."
            )
        latent_dim = z_mean.shape[-1]
        if latent_dim is None or latent_dim < 1:
            raise ValueError(
                f"latent_dim must be at least 1, got {latent_dim}."
            )
        try:
            decoded = self.decoder(keras.KerasTensor((None, latent_dim)))
        except Exception as error:
            raise ValueError(
                f"The decoder cannot take latent codes of shape "
                f"(batch, {latent_dim}): {error}"
            ) from error
        if not _shapes_match(tuple(decoded.shape[1:]), image_shape):
            raise ValueError(
                f"The decoder produces images of shape "
                f"{tuple(decoded.shape[1:])}, but the input images have "
                f"shape {image_shape}. They must be equal: give the decoder "
                f"output_shape={image_shape}."
            )
        self.latent_dim = int(latent_dim)
        if self.image_metrics and len(image_shape) != 3:
            raise ValueError(
                f"image_metrics=True needs images of shape (height, width, "
                f"channels), but the data has shape {image_shape}. Reshape "
                "the data, or pass image_metrics=False."
            )
        self.image_shape = image_shape
        self.built = True

    def compile(self, optimizer="adam", loss=None, **kwargs):
        if loss is not None:
            raise ValueError(
                "kvae.VAE computes its own loss (the negative ELBO); do not "
                "pass `loss=` to compile(). Use `metrics=` for extra metrics "
                "on (images, mean reconstructions)."
            )
        super().compile(optimizer=optimizer, **kwargs)

    # ------------------------------------------------------------------
    # The ELBO: one backend-neutral computation used by every train_step.
    # ------------------------------------------------------------------
    def compute_elbo(self, x, training=False):
        """Returns `(loss, aux)`: the loss to minimize and its parts.

        Args:
            x: float tensor `(batch, *image_shape)`.
            training: bool. Passed to the encoder and decoder.

        Returns:
            `loss`, a float32 scalar: `reconstruction_loss + beta * kl_loss`
            (plus any regularization losses of the layers), averaged over
            the batch; and a dict with `reconstruction_loss`, `kl_loss` and
            `x_mean` (the mean reconstruction, without gradient).
        """
        z_mean, z_log_var = self.encoder(x, training=training)
        z_mean = ops.cast(z_mean, "float32")
        z_log_var = ops.cast(z_log_var, "float32")
        z = z_mean + ops.exp(0.5 * z_log_var) * self.draw_eps(z_mean)
        decoder_output = ops.cast(self.decoder(z, training=training), "float32")
        x = ops.cast(x, "float32")
        log_sigma = None
        if self.log_sigma is not None:
            log_sigma = ops.cast(self.log_sigma, "float32")
        if self.sigma_updates is not None and training:
            log_sigma = ops.stop_gradient(
                elbo.optimal_log_sigma(x, decoder_output)
            )
            self._update_sigma_estimate(log_sigma)
        reconstruction_loss = ops.mean(
            elbo.reconstruction_nll(
                self.likelihood, x, decoder_output, log_sigma
            )
        )
        kl_loss = ops.mean(elbo.gaussian_kl(z_mean, z_log_var))
        loss = reconstruction_loss + self._kl_weight(training) * kl_loss
        regularization = self.losses
        if regularization:
            # Python's sum: `ops.sum` of a list of tracers fails under JAX.
            loss = loss + sum(ops.cast(r, "float32") for r in regularization)
        x_mean = ops.stop_gradient(
            elbo.output_mean(self.likelihood, decoder_output)
        )
        aux = {
            "reconstruction_loss": reconstruction_loss,
            "kl_loss": kl_loss,
            "x_mean": x_mean,
        }
        if log_sigma is not None:
            aux["sigma"] = ops.exp(ops.stop_gradient(log_sigma))
        return loss, aux

    def _update_sigma_estimate(self, log_sigma):
        """Folds a batch's optimal sigma into the `log_sigma` weight.

        Averages variances: exactly over the first `1 / (1 - momentum)`
        batches, then as a moving average.
        """
        steps = ops.cast(self.sigma_updates, "float32") + 1.0
        weight = ops.maximum(1.0 / steps, 1.0 - _SIGMA_MOMENTUM)
        old = ops.exp(2.0 * ops.cast(self.log_sigma, "float32"))
        new = (1.0 - weight) * old + weight * ops.exp(2.0 * log_sigma)
        self.log_sigma.assign(0.5 * ops.log(new))
        self.sigma_updates.assign(steps)

    def draw_eps(self, z_mean):
        """The noise of the reparameterization, `eps ~ N(0, I)`.

        Drawn from the model's own `SeedGenerator`, whose state is a model
        variable, so it advances inside compiled steps on every backend.
        Override to inject fixed noise (the cross-backend parity tests do).
        """
        return keras.random.normal(
            ops.shape(z_mean), dtype=z_mean.dtype, seed=self.seed_generator
        )

    def _kl_weight(self, training):
        if self.warmup_step is None:
            return self.beta
        step = ops.cast(self.warmup_step, "float32")
        if training:
            self.warmup_step.assign(step + 1.0)
        ramp = ops.minimum((step + 1.0) / self.kl_warmup_steps, 1.0)
        return self.beta * ramp

    def update_trackers(self, x, loss, aux, training=False):
        """Updates every tracker and returns the logs (all backends)."""
        batch_size = ops.shape(x)[0]
        self._loss_tracker.update_state(loss, sample_weight=batch_size)
        self.reconstruction_loss_tracker.update_state(
            aux["reconstruction_loss"], sample_weight=batch_size
        )
        self.kl_loss_tracker.update_state(
            aux["kl_loss"], sample_weight=batch_size
        )
        if self.sigma_tracker is not None:
            self.sigma_tracker.update_state(aux["sigma"])
        x = ops.cast(x, "float32")
        x_mean = aux["x_mean"]
        if self.image_trackers:
            x_img, x_mean_img = x, x_mean
            if training and self.image_metrics_batch:
                x_img = x[: self.image_metrics_batch]
                x_mean_img = x_mean[: self.image_metrics_batch]
            mse_tracker, ssim_tracker, psnr_tracker = self.image_trackers
            mse_tracker.update_state(
                ops.mean(ops.square(x_img - x_mean_img), axis=-1)
            )
            ssim_tracker.update_state(x_img, x_mean_img)
            psnr_tracker.update_state(x_img, x_mean_img)
        return self.compute_metrics(x, x, x_mean, sample_weight=None)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        # An autoencoder's target is its input: labels that come with the
        # data (for plots) never reach the `metrics=` given to compile.
        return super().compute_metrics(x, x, y_pred, sample_weight)

    def unpack_images(self, data):
        """The images of a batch: `x`, `(x,)`, `(x, labels)`, ...; labels
        are ignored, so labelled datasets can be passed to `fit`."""
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return x

    # ------------------------------------------------------------------
    # Public inference API (compiled once per backend, see kvae.backend).
    # ------------------------------------------------------------------
    def call(self, inputs, training=False):
        z_mean, _ = self.encoder(inputs, training=training)
        return elbo.output_mean(
            self.likelihood,
            ops.cast(self.decoder(z_mean, training=training), "float32"),
        )

    def encode(self, x):
        """Posterior parameters `(z_mean, z_log_var)` for images `x`."""
        x = self._prepare_images(x)
        return self._inference("encode", self._encode)(x)

    def decode(self, z):
        """Mean image of `p(x | z)` in data space for latent codes `z`."""
        z = ops.convert_to_tensor(z, dtype="float32")
        if len(z.shape) != 2 or z.shape[-1] != self.latent_dim:
            raise ValueError(
                f"decode() takes latent codes of shape (n, {self.latent_dim}),"
                f" got {tuple(z.shape)}."
            )
        return self._inference("decode", self._decode)(z)

    def reconstruct(self, x):
        """Deterministic reconstruction: the decoded posterior mean."""
        x = self._prepare_images(x)
        return self._inference("reconstruct", self.call)(x)

    def sample(self, n, seed=None):
        """Decodes `n` draws from the prior `N(0, I)`.

        Args:
            n: int. Number of images.
            seed: int or `None`. With `None`, the model's own sampling
                `SeedGenerator` advances, so each call gives new images.

        Returns:
            Tensor `(n, *image_shape)` of mean images.
        """
        if self.latent_dim is None:
            raise ValueError(
                "The model is not built yet: call fit(), or build(), first."
            )
        z = keras.random.normal(
            (int(n), self.latent_dim),
            seed=self.sample_seed_generator if seed is None else seed,
        )
        return self.decode(z)

    def _encode(self, x):
        z_mean, z_log_var = self.encoder(x, training=False)
        return ops.cast(z_mean, "float32"), ops.cast(z_log_var, "float32")

    def _decode(self, z):
        return elbo.output_mean(
            self.likelihood,
            ops.cast(self.decoder(z, training=False), "float32"),
        )

    def inference_function(self, name, fn):
        """`fn` compiled for inference with this backend, cached by `name`.

        `kvae.evaluation` and the `encode`/`decode`/`reconstruct` methods
        use it, so repeated calls compile once per input shape.

        Args:
            name: str. The cache key.
            fn: callable. A function of tensors that calls the model's
                layers (with `training=False`).
        """
        return self._inference(name, fn)

    def _inference(self, name, fn):
        if name not in self._inference_functions:
            self._inference_functions[name] = compile_inference(self, fn)
        return self._inference_functions[name]

    def _prepare_images(self, x):
        x = ops.convert_to_tensor(x, dtype="float32")
        if not self.built:
            self.build(x.shape)
        return x

    # ------------------------------------------------------------------
    # Early checks of the data given to fit/evaluate.
    # ------------------------------------------------------------------
    def fit(self, x=None, y=None, validation_data=None, **kwargs):
        if is_tf_dataset(x):
            # A tf.data pipeline shuffles itself (kvae.datasets.load does);
            # Keras only warns that its `shuffle` argument does nothing.
            kwargs.setdefault("shuffle", False)
        self._check_data(x, "training data")
        if validation_data is not None:
            self._check_data(validation_data, "validation_data")
        return super().fit(x, y, validation_data=validation_data, **kwargs)

    def evaluate(self, x=None, y=None, **kwargs):
        self._check_data(x, "evaluation data")
        return super().evaluate(x, y, **kwargs)

    def _check_data(self, data, what):
        images = peek_images(data)
        if images is None:
            return
        check_images(images, self.likelihood, what)
        if not self.built:
            self.build(images.shape)
        elif not _shapes_match(self.image_shape, images.shape[1:]):
            raise ValueError(
                f"The {what} has images of shape {tuple(images.shape[1:])}, "
                f"but this model was built for {self.image_shape}."
            )

    # ------------------------------------------------------------------
    # Serialization.
    # ------------------------------------------------------------------
    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "encoder": keras.saving.serialize_keras_object(self.encoder),
                "decoder": keras.saving.serialize_keras_object(self.decoder),
                "likelihood": self.likelihood,
                "beta": self.beta,
                "kl_warmup_steps": self.kl_warmup_steps,
                "sigma": self.sigma,
                "image_metrics": self.image_metrics,
                "image_metrics_batch": self.image_metrics_batch,
                "max_val": self.max_val,
                "seed": self.seed,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("encoder", "decoder"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)

    def get_build_config(self):
        if self.image_shape is None:
            return None
        return {"input_shape": (None,) + tuple(self.image_shape)}

    def build_from_config(self, config):
        if config and config.get("input_shape"):
            self.build(config["input_shape"])

    def get_compile_config(self):
        return _portable_optimizer(super().get_compile_config())

    def compile_from_config(self, config):
        config = keras.saving.deserialize_keras_object(
            _portable_optimizer(config)
        )
        self.compile(**config)
        if self.built:
            self.optimizer.build(self.trainable_variables)


# Momentum of the running sigma estimate of sigma="optimal".
_SIGMA_MOMENTUM = 0.99


def _portable_optimizer(config):
    """Points optimizers at `keras.optimizers`, not a backend's subclass.

    Under torch, Keras saves an Adam optimizer with the module
    `keras.src.backend.torch.optimizers.torch_adam`; loading that file under
    JAX or TensorFlow then runs torch code and fails in `fit` (a Keras bug).
    The public class of the same name is the portable choice.
    """
    if isinstance(config, dict):
        module = config.get("module")
        if (
            isinstance(module, str)
            and module.startswith("keras.src.backend.")
            and ".optimizers" in module
            and hasattr(keras.optimizers, config.get("class_name", ""))
        ):
            config = dict(config, module="keras.optimizers")
        return {k: _portable_optimizer(v) for k, v in config.items()}
    if isinstance(config, list):
        return [_portable_optimizer(v) for v in config]
    return config


def _declared_input_shape(layer):
    """The image shape a functional encoder was built for, if it says."""
    inputs = getattr(layer, "inputs", None)
    if isinstance(layer, keras.Model) and inputs and len(inputs) == 1:
        return tuple(inputs[0].shape[1:])
    return None


def _shapes_match(a, b):
    return len(a) == len(b) and all(
        i is None or j is None or i == j for i, j in zip(a, b)
    )


def _is_number(value):
    return isinstance(value, (int, float, np.floating, np.integer))
