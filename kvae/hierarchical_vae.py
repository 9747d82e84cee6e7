"""`kvae.HierarchicalVAE`: a VAE with a ladder of stochastic levels."""

import keras
import numpy as np
from keras import ops

from kvae import contracts
from kvae import elbo
from kvae.vae import VAE


@keras.saving.register_keras_serializable(package="kvae")
class HierarchicalVAE(VAE):
    """A hierarchical VAE in top-down (ladder) form, trained like `kvae.VAE`.

    The generative model is `p(z_L) p(z_{L-1} | z_L) ... p(z_1 | z_2)
    p(x | z_1)`. The encoder is a deterministic bottom-up path that gives a
    Gaussian estimate per level; inference then runs top-down through the
    decoder's own conditional priors: the top posterior `q(z_L | x)` is the
    encoder's top estimate, and each lower posterior is the precision-
    weighted combination of the encoder's estimate with the prior
    `p(z_l | z_{l+1})` at the sampled `z_{l+1}` (the Ladder VAE). The
    ELBO's KL term is the sum of one KL per level, each analytic given the
    level above (for the top level, as the prior allows), and `fit` logs
    each as `kl_loss_1` (bottom) ... `kl_loss_L` next to their sum
    `kl_loss`.

    Everything else is `kvae.VAE`'s: the same train steps on every
    backend, the priors (for the top level), the IWAE objective and free
    bits, saving and evaluation. `encode` gives the top level's posterior,
    `decode(z)` runs a top-level code down through the prior means, and
    `sample` draws every level from the generative model.

    Args:
        encoder: `keras.Layer` with a `latent_dims` attribute, mapping
            images to one pair `(z_mean, z_log_var)` per level, bottom
            first (`kvae.layers.LadderEncoder`).
        decoder: `keras.Layer` with the same `latent_dims`, a method
            `conditional_prior(level, z_above) -> (mean, log_var)`, and
            mapping the bottom code to the image's logits or mean
            (`kvae.layers.LadderDecoder`).
        **kwargs: the other arguments of `kvae.VAE` (`likelihood`, `beta`,
            `kl_warmup_steps`, `prior`, `objective`, `num_samples`,
            `free_bits`, ...).

    Example:

    ```python
    model = kvae.HierarchicalVAE(
        kvae.layers.LadderEncoder(latent_dims=(32, 16)),
        kvae.layers.LadderDecoder(latent_dims=(32, 16)),
    )
    model.compile(optimizer="adam")
    model.fit(x, epochs=1, batch_size=64)  # logs kl_loss_1, kl_loss_2
    ```

    Reference:
    - [Sønderby et al., 2016](https://arxiv.org/abs/1602.02282)
    """

    def __init__(self, encoder, decoder, **kwargs):
        encoder_dims = getattr(encoder, "latent_dims", None)
        decoder_dims = getattr(decoder, "latent_dims", None)
        if encoder_dims is None:
            raise TypeError(
                "The encoder of a HierarchicalVAE must say its levels in a "
                "`latent_dims` attribute (bottom first); "
                f"{type(encoder).__name__} has none. Use "
                "kvae.layers.LadderEncoder."
            )
        if not callable(getattr(decoder, "conditional_prior", None)):
            raise TypeError(
                "The decoder of a HierarchicalVAE must have a method "
                "conditional_prior(level, z_above); "
                f"{type(decoder).__name__} has none. Use "
                "kvae.layers.LadderDecoder."
            )
        if len(encoder_dims) < 2:
            raise ValueError(
                "A HierarchicalVAE needs at least two latent levels, got "
                f"latent_dims={tuple(encoder_dims)}. Use kvae.VAE for one."
            )
        if decoder_dims is not None and tuple(decoder_dims) != tuple(
            encoder_dims
        ):
            raise ValueError(
                f"The levels do not chain: the encoder has latent_dims="
                f"{tuple(encoder_dims)} but the decoder has "
                f"{tuple(decoder_dims)}. Give both the same latent_dims."
            )
        super().__init__(encoder, decoder, **kwargs)

    def loss_names(self):
        levels = range(1, len(self.encoder.latent_dims) + 1)
        return super().loss_names() + [f"kl_loss_{i}" for i in levels]

    def level_dims(self):
        return [int(d) for d in self.encoder.latent_dims]

    def build_latent_path(self, image_shape):
        encoded = contracts.trace_layer(
            self.encoder,
            keras.KerasTensor((None,) + image_shape),
            f"The encoder cannot take images of shape {image_shape}",
        )
        dims = self.level_dims()
        if not isinstance(encoded, (tuple, list)) or len(encoded) != len(dims):
            raise ValueError(
                f"The encoder must return one pair (z_mean, z_log_var) per "
                f"level ({len(dims)} levels, latent_dims={tuple(dims)}); it "
                f"returned {encoded}."
            )
        for level, (pair, dim) in enumerate(zip(encoded, dims), start=1):
            z_mean, _ = contracts.check_gaussian(
                pair, f"The encoder's level {level}"
            )
            if z_mean.shape[-1] != dim:
                raise ValueError(
                    f"The levels do not chain: the encoder's level {level} "
                    f"has {z_mean.shape[-1]} dimensions, but its latent_dims "
                    f"says {dim}."
                )
        for level in range(len(dims) - 1):
            prior = contracts.trace_layer(
                lambda z: self.decoder.conditional_prior(level, z),
                keras.KerasTensor((None, dims[level + 1])),
                f"The decoder's prior of level {level + 1} cannot take codes "
                f"of level {level + 2}, shape (batch, {dims[level + 1]})",
            )
            mean, _ = contracts.check_gaussian(
                prior, f"The decoder's prior of level {level + 1}"
            )
            if mean.shape[-1] != dims[level]:
                raise ValueError(
                    f"The levels do not chain: the decoder's prior of level "
                    f"{level + 1} has {mean.shape[-1]} dimensions, but the "
                    f"encoder's level has {dims[level]}."
                )
        decoded = contracts.trace_layer(
            self.decoder,
            keras.KerasTensor((None, dims[0])),
            f"The decoder cannot take codes of the bottom level, shape "
            f"(batch, {dims[0]})",
        )
        contracts.check_decoder_output(decoded, image_shape)
        return dims[-1]

    def posterior(self, x, training=False):
        z_mean, z_log_var = self.encoder(x, training=training)[-1]
        return ops.cast(z_mean, "float32"), ops.cast(z_log_var, "float32")

    def sample_terms(self, x, num_samples, noise, analytic_kl, training):
        estimates = [
            tuple(
                elbo.repeat_samples(ops.cast(t, "float32"), num_samples)
                for t in pair
            )
            for pair in self.encoder(x, training=training)
        ]
        top = len(estimates) - 1
        kl_terms = [None] * len(estimates)
        z_mean, z_log_var = estimates[top]
        z = z_mean + ops.exp(0.5 * z_log_var) * noise(top, z_mean)
        kl_terms[top] = self.prior_kl(z_mean, z_log_var, z, analytic_kl)
        for level in reversed(range(top)):
            p_mean, p_log_var = self._conditional_prior(level, z, training)
            z_mean, z_log_var = elbo.precision_weighted(
                *estimates[level], p_mean, p_log_var
            )
            z = z_mean + ops.exp(0.5 * z_log_var) * noise(level, z_mean)
            if analytic_kl:
                kl = elbo.gaussian_kl_per_dim(
                    z_mean, z_log_var, p_mean, p_log_var
                )
            else:
                kl = ops.expand_dims(
                    elbo.gaussian_log_prob(z, z_mean, z_log_var)
                    - elbo.gaussian_log_prob(z, p_mean, p_log_var),
                    -1,
                )
            kl_terms[level] = kl
        decoder_output = ops.cast(self.decoder(z, training=training), "float32")
        log_likelihood = self.log_likelihood(
            x, decoder_output, num_samples, training
        )
        return log_likelihood, kl_terms, decoder_output

    def _conditional_prior(self, level, z_above, training=False):
        mean, log_var = self.decoder.conditional_prior(
            level, z_above, training=training
        )
        return ops.cast(mean, "float32"), ops.cast(log_var, "float32")

    def sample(self, n, seed=None, temperature=1.0):
        """Draws `n` images from the generative model: the top code from
        the prior, each lower one from its conditional prior.

        Args:
            n: int. Number of images.
            seed: int or `None`. With `None`, the model's own sampling
                `SeedGenerator` advances, so each call gives new images.
            temperature: float. Scales the standard deviation of every
                level's draw (NVAE's temperature).

        Returns:
            Tensor `(n, *image_shape)` of mean images.
        """
        generator = self.sample_seed_generator
        if seed is not None:
            generator = keras.random.SeedGenerator(seed)
        z = self.sample_latent(n, generator, temperature)
        eps = temperature * keras.random.normal(
            (int(n), sum(self.level_dims()[:-1])), seed=generator
        )
        return self.inference_function("generate", self._generate)(z, eps)

    def _decode(self, z):
        return self._generate(z, None)

    def _generate(self, z, eps):
        offsets = np.cumsum([0] + self.level_dims())
        for level in reversed(range(len(self.level_dims()) - 1)):
            mean, log_var = self._conditional_prior(level, z)
            z = mean
            if eps is not None:
                level_eps = eps[:, offsets[level] : offsets[level + 1]]
                z = mean + ops.exp(0.5 * log_var) * level_eps
        return elbo.output_mean(
            self.likelihood,
            ops.cast(self.decoder(z, training=False), "float32"),
        )
