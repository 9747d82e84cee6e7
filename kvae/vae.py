"""`kvae.VAE`: a variational autoencoder with its own `train_step`."""

import math

import keras
import numpy as np
from keras import ops

from kvae import contracts
from kvae import elbo
from kvae import priors
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
    reparameterization `z = mu + exp(0.5 * logvar) * eps`, and every loss
    is summed over pixels and averaged over the batch: the numbers are nats
    per image. With the default standard normal prior the KL term is
    analytic; with another prior (`kvae.priors`) it is estimated from the
    drawn `z` as `log q(z | x) - log p(z)`.

    `objective="iwae"` trains on the importance-weighted bound of Burda et
    al. instead: with `num_samples=k` codes per image,

        loss = -log (1/k) sum_i p(x | z_i) p(z_i) / q(z_i | x),

    which equals the ELBO for `k=1` and tightens towards `log p(x)` as `k`
    grows. `reconstruction_loss` and `kl_loss` are then the k-sample
    averages of the ELBO's terms (so their sum is still the negative ELBO),
    and `loss` is the negative IWAE bound.

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
        prior: str or `kvae.priors.Prior`. The prior `p(z)`:
            `"standard_normal"` (default), `"mixture_of_gaussians"`,
            `"vamp"`, or an instance with its own arguments.
        objective: str. `"elbo"` (default) or `"iwae"`.
        num_samples: int. Codes drawn per image in each step, at least 1.
            The ELBO averages over them; the IWAE bound weighs them.
        free_bits: float. If positive, each latent dimension's KL (its
            batch mean) counts at least this many nats in the loss, so the
            optimizer gains nothing by pushing it lower (Kingma et al.,
            2016). Where the KL is only known for a whole latent vector
            (non-Gaussian priors), the vector's floor is `free_bits` times
            its size. ELBO objective only.
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
    - [Burda, Grosse and Salakhutdinov, 2015](
      https://arxiv.org/abs/1509.00519)
    - [Kingma et al., 2016](https://arxiv.org/abs/1606.04934) (free bits)
    - [Rybkin, Daniilidis and Levine, 2021](https://arxiv.org/abs/2006.13202)
      for `sigma="optimal"`
    """

    OBJECTIVES = ("elbo", "iwae")

    def __init__(
        self,
        encoder,
        decoder,
        likelihood="bernoulli",
        beta=1.0,
        kl_warmup_steps=0,
        prior="standard_normal",
        objective="elbo",
        num_samples=1,
        free_bits=0.0,
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
        if objective not in self.OBJECTIVES:
            raise ValueError(
                f"Unknown objective {objective!r}. Use 'elbo' (the evidence "
                "lower bound) or 'iwae' (the importance-weighted bound, with "
                "num_samples > 1)."
            )
        if (
            not isinstance(num_samples, (int, np.integer))
            or isinstance(num_samples, bool)
            or num_samples < 1
        ):
            raise ValueError(
                f"`num_samples` must be an int >= 1, got {num_samples!r}."
            )
        if not _is_number(free_bits) or free_bits < 0:
            raise ValueError(
                f"`free_bits` must be a number >= 0 (nats per latent "
                f"dimension), got {free_bits!r}."
            )
        if free_bits > 0 and objective != "elbo":
            raise ValueError(
                "`free_bits` floors the KL term of the ELBO; the IWAE "
                "objective has no separate KL term. Use objective='elbo' "
                "or free_bits=0."
            )
        prior = priors.get(prior)
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
        declared = _declared_input_shape(encoder)
        if prior.needs_encoder and declared is not None:
            # Checks the prior against the encoder now, not at build.
            prior.set_encoder(self.posterior, declared)
        self.likelihood = likelihood
        self.beta = float(beta)
        self.kl_warmup_steps = int(kl_warmup_steps)
        self.prior = prior
        self.objective = objective
        self.num_samples = int(num_samples)
        self.free_bits = float(free_bits)
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
        # One tracker per entry of `loss_names()`, updated from the dict
        # `compute_elbo` returns: models with more terms log them all.
        self.loss_trackers = [
            keras.metrics.Mean(name=name) for name in self.loss_names()
        ]
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
        if expected is not None and not contracts.shapes_match(
            expected, image_shape
        ):
            raise ValueError(
                f"The data has images of shape {image_shape}, but the "
                f"encoder expects {expected}. Resize the data, or build the "
                "encoder for this image shape."
            )
        latent_dim = self.build_latent_path(image_shape)
        self.latent_dim = int(latent_dim)
        if self.image_metrics and len(image_shape) != 3:
            raise ValueError(
                f"image_metrics=True needs images of shape (height, width, "
                f"channels), but the data has shape {image_shape}. Reshape "
                "the data, or pass image_metrics=False."
            )
        self.image_shape = image_shape
        if self.prior.needs_encoder:
            self.prior.set_encoder(self.posterior, image_shape)
        if not self.prior.built:
            self.prior.build((None, self.latent_dim))
        self.built = True

    def build_latent_path(self, image_shape):
        """Builds the encoder and decoder for `image_shape` and checks that
        they chain; returns the size of the prior's latent code."""
        encoded = contracts.trace_layer(
            self.encoder,
            keras.KerasTensor((None,) + image_shape),
            f"The encoder cannot take images of shape {image_shape}",
        )
        z_mean, _ = contracts.check_gaussian(encoded, "The encoder")
        latent_dim = z_mean.shape[-1]
        decoded = contracts.trace_layer(
            self.decoder,
            keras.KerasTensor((None, latent_dim)),
            f"The decoder cannot take latent codes of shape "
            f"(batch, {latent_dim})",
        )
        contracts.check_decoder_output(decoded, image_shape)
        return latent_dim

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
    def loss_names(self):
        """Names of the loss terms `fit` logs besides `loss`."""
        names = ["reconstruction_loss", "kl_loss"]
        if self.likelihood == "gaussian" and not _is_number(self.sigma):
            names.append("sigma")
        return names

    def compute_elbo(self, x, training=False):
        """Returns `(loss, aux)`: the loss to minimize and its parts.

        Args:
            x: float tensor `(batch, *image_shape)`.
            training: bool. Passed to the encoder and decoder.

        Returns:
            `loss`, a float32 scalar: the negative ELBO
            `reconstruction_loss + beta * kl_loss` (with free bits, if
            set) or the negative IWAE bound, plus any regularization
            losses of the layers, averaged over the batch; and a dict with
            every entry of `loss_names()` and `x_mean` (the mean
            reconstruction, without gradient).
        """
        x = ops.cast(x, "float32")
        log_likelihood, kl_terms, decoder_output = self.sample_terms(
            x,
            self.num_samples,
            lambda level, mean: self.draw_eps(mean),
            analytic_kl=self.objective == "elbo",
            training=training,
        )
        weight = self._kl_weight(training)
        level_kls = [ops.sum(kl, axis=-1) for kl in kl_terms]
        kl_total = sum(level_kls)
        reconstruction_loss = -ops.mean(log_likelihood)
        kl_loss = ops.mean(kl_total)
        if self.objective == "iwae":
            log_weights = ops.reshape(
                log_likelihood - weight * kl_total,
                (self.num_samples, ops.shape(x)[0]),
            )
            loss = -ops.mean(elbo.iwae_bound(log_weights))
        elif self.free_bits:
            kl_term = sum(
                elbo.free_bits_kl(kl, self.free_bits, dims)
                for kl, dims in zip(kl_terms, self.level_dims())
            )
            loss = reconstruction_loss + weight * kl_term
        else:
            loss = reconstruction_loss + weight * kl_loss
        regularization = self.losses
        if regularization:
            # Python's sum: `ops.sum` of a list of tracers fails under JAX.
            loss = loss + sum(ops.cast(r, "float32") for r in regularization)
        # The first sample's reconstruction, for the image metrics.
        x_mean = ops.stop_gradient(
            elbo.output_mean(self.likelihood, decoder_output[: ops.shape(x)[0]])
        )
        aux = {
            "reconstruction_loss": reconstruction_loss,
            "kl_loss": kl_loss,
            "x_mean": x_mean,
        }
        if len(level_kls) > 1:
            for level, kl in enumerate(level_kls, start=1):
                aux[f"kl_loss_{level}"] = ops.mean(kl)
        if "sigma" in self.loss_names():
            log_sigma = self.log_sigma_used(
                elbo.repeat_samples(x, self.num_samples),
                decoder_output,
                training,
            )
            aux["sigma"] = ops.exp(ops.stop_gradient(log_sigma))
        return loss, aux

    def log_sigma_used(self, x, decoder_output, training):
        """The Gaussian log sigma of the likelihood (`None` for Bernoulli):
        the `log_sigma` weight, or in a training step of `sigma="optimal"`
        the batch's own optimum, without gradient. `x` is repeated to
        match the rows of `decoder_output`."""
        if self.log_sigma is None:
            return None
        if self.sigma_updates is not None and training:
            return ops.stop_gradient(elbo.optimal_log_sigma(x, decoder_output))
        return ops.cast(self.log_sigma, "float32")

    def sample_terms(self, x, num_samples, noise, analytic_kl, training):
        """The per-sample terms of the bounds, for `num_samples` codes.

        Args:
            x: float32 tensor `(batch, *image_shape)`.
            num_samples: int. Codes `k` drawn per image.
            noise: callable `(level, z_mean) -> eps`, the standard normal
                noise of the given shape for latent level `level` (0 is
                the level next to `x`).
            analytic_kl: bool. Use the analytic KL where there is one;
                `False` gives `log q(z | x) - log p(z)` at the drawn `z`,
                which the importance weights need.
            training: bool. Passed to the encoder and decoder.

        Returns:
            `(log_likelihood, kl_terms, decoder_output)`:
            `log p(x | z)` `(k * batch,)`, one KL tensor
            `(k * batch, columns)` per latent level (see
            `kvae.priors.Prior.kl_divergence`) and the raw decoder output
            `(k * batch, *image_shape)`. Rows are sample-major: row
            `i * batch + j` is sample `i` of image `j`.
        """
        z_mean, z_log_var = (
            elbo.repeat_samples(t, num_samples)
            for t in self.posterior(x, training)
        )
        z = z_mean + ops.exp(0.5 * z_log_var) * noise(0, z_mean)
        kl = self.prior_kl(z_mean, z_log_var, z, analytic_kl)
        decoder_output = ops.cast(self.decoder(z, training=training), "float32")
        log_likelihood = self.log_likelihood(
            x, decoder_output, num_samples, training
        )
        return log_likelihood, [kl], decoder_output

    def posterior(self, x, training=False):
        """The posterior `(z_mean, z_log_var)` of the prior's latent level,
        in float32. The `VampPrior` evaluates it at its pseudo-inputs."""
        z_mean, z_log_var = self.encoder(x, training=training)
        return ops.cast(z_mean, "float32"), ops.cast(z_log_var, "float32")

    def prior_kl(self, z_mean, z_log_var, z, analytic_kl):
        """The KL term of the prior's level, `(n, columns)`."""
        if analytic_kl:
            return self.prior.kl_divergence(z_mean, z_log_var, z)
        log_q = elbo.gaussian_log_prob(z, z_mean, z_log_var)
        return ops.expand_dims(log_q - self.prior.log_prob(z), -1)

    def level_dims(self):
        """The number of latent dimensions of each level, bottom first."""
        return [self.latent_dim]

    @property
    def total_latent_dim(self):
        """All latent dimensions of a code: the size of its noise."""
        return sum(self.level_dims())

    def log_likelihood(self, x, decoder_output, num_samples, training=False):
        """`log p(x | z)` `(num_samples * batch,)` for the raw decoder
        output of `num_samples` codes per image (sample-major rows).

        With `sigma="optimal"`, a training batch uses its own
        maximum-likelihood sigma and folds it into the running estimate
        that every other call uses.
        """
        x = elbo.repeat_samples(x, num_samples)
        log_sigma = self.log_sigma_used(x, decoder_output, training)
        if self.sigma_updates is not None and training:
            self._update_sigma_estimate(log_sigma)
        return -elbo.reconstruction_nll(
            self.likelihood, x, decoder_output, log_sigma
        )

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
        `z_mean` is the posterior mean of one latent level, repeated
        `num_samples` times along the first axis when that is above 1.
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
        for tracker in self.loss_trackers:
            tracker.update_state(aux[tracker.name], sample_weight=batch_size)
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
        x = ops.cast(inputs, "float32")
        _, _, decoder_output = self.sample_terms(
            x,
            1,
            lambda level, mean: ops.zeros_like(mean),
            analytic_kl=True,
            training=training,
        )
        return elbo.output_mean(self.likelihood, decoder_output)

    def encode(self, x):
        """Posterior parameters `(z_mean, z_log_var)` for images `x` (of
        the top latent level in a hierarchical model)."""
        x = self._prepare_images(x)
        return self._inference("encode", self.posterior)(x)

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
        """Decodes `n` draws from the prior `p(z)`.

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
        z = self.prior.sample(
            int(n), self.sample_seed_generator if seed is None else seed
        )
        return self.decode(ops.stop_gradient(z))

    def log_importance_weights(self, x, eps):
        """`log w = log p(x | z) + log p(z) - log q(z | x)` for given noise.

        Every density is a full normalized density, the constants included,
        so `logsumexp(log w) - log k` is a lower bound on `log p(x)`
        (`kvae.evaluation.importance_weighted_nll` builds on this). In a
        hierarchical model `z` is every level's code and `q` the whole
        inference path. Compiled once per backend.

        Args:
            x: images `(batch, *image_shape)`.
            eps: standard normal noise `(k, batch, total_latent_dim)`;
                each level takes its `level_dims()` columns, bottom first.

        Returns:
            float32 tensor `(k, batch)`.
        """
        x = self._prepare_images(x)
        eps = ops.convert_to_tensor(eps, dtype="float32")
        if len(eps.shape) != 3 or eps.shape[-1] != self.total_latent_dim:
            raise ValueError(
                "eps must have shape (k, batch, total_latent_dim="
                f"{self.total_latent_dim}), got {tuple(eps.shape)}."
            )
        return self._inference("log_weights", self._log_weights)(x, eps)

    def _log_weights(self, x, eps):
        k, batch = ops.shape(eps)[0], ops.shape(eps)[1]
        offsets = np.cumsum([0] + self.level_dims())

        def noise(level, mean):
            columns = eps[..., offsets[level] : offsets[level + 1]]
            return ops.reshape(columns, ops.shape(mean))

        log_likelihood, kl_terms, _ = self.sample_terms(
            x, k, noise, analytic_kl=False, training=False
        )
        kl = sum(ops.sum(kl, axis=-1) for kl in kl_terms)
        return ops.reshape(log_likelihood - kl, (k, batch))

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
        elif not contracts.shapes_match(self.image_shape, images.shape[1:]):
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
                "prior": keras.saving.serialize_keras_object(self.prior),
                "objective": self.objective,
                "num_samples": self.num_samples,
                "free_bits": self.free_bits,
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
        for key in ("encoder", "decoder", "prior"):
            if isinstance(config.get(key), dict):
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


def _is_number(value):
    return isinstance(value, (int, float, np.floating, np.integer))
