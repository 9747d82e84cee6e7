"""`kvae.VAE`: a variational autoencoder with its own `train_step`.

This module holds the constructor, the build and the ELBO. The other jobs
are mixins, one per module: the likelihood and its sigma
(`kvae.likelihood`), the metric trackers (`kvae.trackers`), the inference
API (`kvae.inference`), the checks of the data given to `fit` and
`evaluate` (`kvae.validation`) and the saved configs (`kvae.saving`); the
constructor's argument checks are in `kvae.model_args`, and
`kvae.backend` adds the backend's `train_step` and `test_step`.
"""

import keras
from keras import ops

from kvae import contracts
from kvae import elbo
from kvae import model_args
from kvae import priors
from kvae.backend import VAETrainer
from kvae.inference import InferenceMixin
from kvae.likelihood import LikelihoodMixin
from kvae.model_args import is_number
from kvae.presets.mixin import PresetsMixin
from kvae.saving import SavingMixin
from kvae.trackers import TrackersMixin
from kvae.validation import DataChecksMixin


@keras.saving.register_keras_serializable(package="kvae")
class VAE(
    LikelihoodMixin,
    TrackersMixin,
    InferenceMixin,
    DataChecksMixin,
    SavingMixin,
    PresetsMixin,
    VAETrainer,
    keras.Model,
):
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
            `"vamp"`, or an instance with its own arguments. An instance
            serves one model: one that another model has is refused.
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
            the Gaussian likelihood: fixed (at least exp(-6), about
            0.0025: a smaller one overflows the loss), a trainable scalar
            (initialized at 1), or, with `"optimal"`, its
            maximum-likelihood value for each training batch, the
            root-mean-square reconstruction error of the batch over all
            pixels (log sigma floored at -6; no
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
        skip_gradient_norm: float or `None`. If set, an update is applied
            only when the global norm of its gradients is finite and below
            this; the others are skipped and counted in the
            `skipped_updates` weight, which `fit` logs (VDVAE's skip
            threshold; see `kvae.gradient_skip`). Not supported under a
            TensorFlow `tf.distribute` strategy.
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

    OBJECTIVES = model_args.OBJECTIVES
    # Whether the model takes class labels (`kvae.ConditionalVAE`).
    conditional = False

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
        skip_gradient_norm=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        model_args.check_likelihood(likelihood)
        model_args.check_beta(beta)
        model_args.check_kl_warmup_steps(kl_warmup_steps)
        model_args.check_objective(objective)
        model_args.check_num_samples(num_samples)
        model_args.check_free_bits(free_bits, objective)
        prior = priors.get(prior)
        if getattr(prior, "needs_labels", False) and not self.conditional:
            raise ValueError(
                f"The {type(prior).__name__} prior is p(z | y): it needs the "
                "class labels, which only a kvae.ConditionalVAE has. Use "
                "kvae.ConditionalVAE(..., num_classes=..., prior=...), or "
                "another prior."
            )
        model_args.check_sigma(sigma)
        model_args.check_image_metrics(image_metrics_batch, max_val)
        model_args.check_skip_gradient_norm(skip_gradient_norm)
        model_args.check_layers(encoder, decoder)
        latent_dim = getattr(encoder, "latent_dim", None)
        if latent_dim is not None:
            contracts.check_latent_dim(latent_dim)
        self.encoder = encoder
        self.decoder = decoder
        declared = contracts.declared_input_shape(encoder)
        prior.bind(self)
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
        self.skip_gradient_norm = (
            None if skip_gradient_norm is None else float(skip_gradient_norm)
        )
        self.seed = seed
        self.latent_dim = latent_dim
        self.image_shape = None

        self.seed_generator = keras.random.SeedGenerator(seed, name="eps_seed")
        self.sample_seed_generator = keras.random.SeedGenerator(
            None if seed is None else seed + 1, name="sample_seed"
        )
        self._add_sigma_weights()
        self.warmup_step = None
        if self.kl_warmup_steps:
            self.warmup_step = self.add_weight(
                name="kl_warmup_step",
                shape=(),
                initializer="zeros",
                trainable=False,
                autocast=False,
            )

        self.skipped_updates = None
        if self.skip_gradient_norm is not None:
            self.skipped_updates = self.add_weight(
                name="skipped_updates",
                shape=(),
                initializer="zeros",
                trainable=False,
                autocast=False,
            )

        self._create_trackers()
        self._inference_functions = {}

    # ------------------------------------------------------------------
    # Building, and checking the encoder/decoder contract once.
    # ------------------------------------------------------------------
    def build(self, input_shape):
        input_shape = tuple(input_shape)
        image_shape = tuple(input_shape[1:])
        if self.image_metrics and len(image_shape) != 3:
            raise ValueError(
                f"image_metrics=True needs a batch of images (batch, height, "
                f"width, channels), but the data has shape {input_shape}. "
                "Grayscale images (batch, height, width) need a channel "
                "axis: x[..., None]; one image (height, width, channels) "
                "needs a batch axis: x[None]. For data that are not images, "
                "pass image_metrics=False."
            )
        contracts.check_encoder_input(self.encoder, image_shape)
        latent_dim = self.build_latent_path(image_shape)
        self.latent_dim = int(latent_dim)
        needed = max(
            (getattr(t, "min_image_size", 1) for t in self.image_trackers),
            default=1,
        )
        if self.image_metrics and min(image_shape[:2]) < needed:
            raise ValueError(
                f"The image metrics (SSIM) need images of at least "
                f"{needed} pixels a side, but these are "
                f"{image_shape[0]}x{image_shape[1]}. Pass "
                "image_metrics=False, or use larger images."
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
            self.call_encoder,
            keras.KerasTensor((None,) + image_shape),
            f"The encoder cannot take images of shape {image_shape}",
        )
        z_mean, _ = contracts.check_gaussian(encoded, "The encoder")
        latent_dim = z_mean.shape[-1]
        decoded = contracts.trace_layer(
            self.call_decoder,
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
        if self.likelihood == "gaussian" and not is_number(self.sigma):
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
        decoder_output = ops.cast(self.call_decoder(z, training), "float32")
        log_likelihood = self.log_likelihood(
            x, decoder_output, num_samples, training
        )
        return log_likelihood, [kl], decoder_output

    def posterior(self, x, training=False):
        """The posterior `(z_mean, z_log_var)` of the prior's latent level,
        in float32. The `VampPrior` evaluates it at its pseudo-inputs."""
        z_mean, z_log_var = self.call_encoder(x, training)
        return ops.cast(z_mean, "float32"), ops.cast(z_log_var, "float32")

    # The one place each layer is called: `kvae.ConditionalVAE` adds the
    # label here.
    def call_encoder(self, x, training=False):
        return self.encoder(x, training=training)

    def call_decoder(self, z, training=False):
        return self.decoder(z, training=training)

    def prior_kl(self, z_mean, z_log_var, z, analytic_kl):
        """The KL term of the prior's level, `(n, columns)`."""
        if analytic_kl:
            return self.prior.kl_divergence(z_mean, z_log_var, z)
        return self.prior.sampled_kl(z_mean, z_log_var, z)

    def level_dims(self):
        """The number of latent dimensions of each level, bottom first."""
        return [self.latent_dim]

    @property
    def total_latent_dim(self):
        """All latent dimensions of a code: the size of its noise."""
        return sum(self.level_dims())

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
        # The ramp is computed before the counter moves: under torch `step`
        # can be the variable's own tensor, which `assign` changes in place.
        ramp = ops.minimum((step + 1.0) / self.kl_warmup_steps, 1.0)
        if training:
            self.warmup_step.assign(step + 1.0)
        return self.beta * ramp
