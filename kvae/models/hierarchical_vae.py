"""`kvae.HierarchicalVAE`: a top-down hierarchical VAE with spatial latent
groups (the NVAE / VDVAE family)."""

import keras
import numpy as np
from keras import ops

from kvae import contracts
from kvae import elbo
from kvae.vae import VAE


@keras.saving.register_keras_serializable(package="kvae")
class HierarchicalVAE(VAE):
    """A deep hierarchical VAE, trained like `kvae.VAE`.

    The generative model is `p(z_1) p(z_2 | z_1) ... p(z_G | z_<G)
    p(x | z_1..z_G)`, with `z_1` the top group: the decoder
    (`kvae.layers.HierarchicalDecoder`) runs one top-down path of residual
    blocks whose state every group reads its prior from and writes its
    code into, at several resolutions (for 28x28 images, groups at 7x7
    and 14x14), and the image is decoded from that state. The inference
    model shares the path: each group's posterior `q(z_g | x, z_<g)` is
    computed from the same state and the encoder's feature map at that
    resolution (`kvae.layers.HierarchicalEncoder`, bottom-up). The ELBO's
    KL term is one analytic KL per group, given the groups above; `fit`
    logs each as `kl_loss_1` (the group nearest the image) ... `kl_loss_G`
    (the top), next to their sum `kl_loss`.

    The top group's prior is the model's `prior` (a standard normal by
    default, or a learned `kvae.priors` prior on its flattened code);
    `encode` gives the top group's posterior, `decode(z)` runs a top code
    down with every lower group at its prior mean, and `sample(n,
    temperature=t)` draws every group from its prior with its standard
    deviation scaled by `t` (NVAE). `encode_path` and `decode_path` give
    and take the codes of every group (what a sampler fitted with
    `levels="all"` draws). What makes it train is measured in
    docs/hierarchical.md: KL warm-up (`kl_warmup_steps`), free bits per
    group (`free_bits`: each group's batch-mean KL counts at least
    `free_bits` nats per dimension of the group), soft-clamped
    log-variances, and skipped updates (`skip_gradient_norm`).

    Args:
        encoder: a `kvae.layers.HierarchicalEncoder` (or a layer with its
            `resolutions` and one feature map per resolution, smallest
            first).
        decoder: a `kvae.layers.HierarchicalDecoder` with the same
            `resolutions`.
        **kwargs: the other arguments of `kvae.VAE` (`likelihood`, `beta`,
            `kl_warmup_steps`, `prior`, `objective`, `num_samples`,
            `free_bits`, `skip_gradient_norm`, ...).

    Example:

    ```python
    model = kvae.HierarchicalVAE(
        kvae.layers.HierarchicalEncoder(resolutions=(7, 14)),
        kvae.layers.HierarchicalDecoder((28, 28, 1), resolutions=(7, 14)),
        kl_warmup_steps=1000,
    )
    model.compile(optimizer="adam")
    model.fit(x, epochs=1, batch_size=64)  # logs kl_loss_1 ... kl_loss_4
    ```

    Reference:
    - [Vahdat and Kautz, 2020](https://arxiv.org/abs/2007.03898) (NVAE)
    - [Child, 2021](https://arxiv.org/abs/2011.10650) (VDVAE)
    - [Sønderby et al., 2016](https://arxiv.org/abs/1602.02282)
    """

    def __init__(self, encoder, decoder, **kwargs):
        if not callable(getattr(decoder, "top_down", None)) or not hasattr(
            decoder, "latent_shapes"
        ):
            raise TypeError(
                "The decoder of a HierarchicalVAE must have a top-down path "
                "(a `top_down` method and `latent_shapes`); "
                f"{type(decoder).__name__} has none. Use "
                "kvae.layers.HierarchicalDecoder."
            )
        resolutions = getattr(encoder, "resolutions", None)
        if resolutions is None:
            raise TypeError(
                "The encoder of a HierarchicalVAE must say the resolutions "
                "of its feature maps in a `resolutions` attribute; "
                f"{type(encoder).__name__} has none. Use "
                "kvae.layers.HierarchicalEncoder."
            )
        if tuple(resolutions) != tuple(decoder.resolutions):
            raise ValueError(
                f"The encoder's resolutions {tuple(resolutions)} and the "
                f"decoder's {tuple(decoder.resolutions)} differ: each latent "
                "group reads the encoder's map of its own resolution. Give "
                "both the same resolutions."
            )
        super().__init__(encoder, decoder, **kwargs)

    def loss_names(self):
        groups = range(1, len(self.decoder.latent_shapes) + 1)
        return super().loss_names() + [f"kl_loss_{i}" for i in groups]

    def level_dims(self):
        """Flattened size of every group's code, bottom (nearest the
        image) first."""
        return [int(np.prod(s)) for s in reversed(self.decoder.latent_shapes)]

    def build_latent_path(self, image_shape):
        if tuple(image_shape) != tuple(self.decoder.output_shape):
            raise ValueError(
                f"The decoder produces images of shape "
                f"{tuple(self.decoder.output_shape)}, but the input images "
                f"have shape {tuple(image_shape)}. They must be equal: give "
                f"the decoder output_shape={tuple(image_shape)}."
            )
        features = contracts.trace_layer(
            self.call_encoder,
            keras.KerasTensor((None,) + tuple(image_shape)),
            f"The encoder cannot take images of shape {image_shape}",
        )
        if not isinstance(features, (list, tuple)) or len(features) != len(
            self.decoder.resolutions
        ):
            raise ValueError(
                "The encoder must return one feature map per resolution "
                f"({len(self.decoder.resolutions)}: "
                f"{self.decoder.resolutions}); it returned {features}."
            )
        if not self.decoder.built:
            self.decoder.build((None, self.decoder.top_dim))

        def posterior_means(g, prior, posterior):
            return posterior[0]

        decoded = contracts.trace_layer(
            lambda f: self.top_down(f[0], f, posterior_means),
            features,
            "The decoder cannot take the encoder's feature maps",
        )
        contracts.check_decoder_output(decoded, tuple(image_shape))
        return self.decoder.top_dim

    def posterior(self, x, training=False):
        features = self.call_encoder(x, training=training)
        group = self.decoder.latent_groups[0]
        state = self.decoder.initial_state(
            features[0], **self.path_condition(features[0])
        )
        mean, log_var = group.posterior(state, features[0])
        return _flat32(mean), _flat32(log_var)

    def top_down(self, like, features, choose):
        """The decoder's top-down path (`HierarchicalDecoder.top_down`)
        for the batch `like`, with what else the model gives it."""
        return self.decoder.top_down(
            like, features, choose, **self.path_condition(like)
        )

    def path_condition(self, like):
        """Keyword arguments of the top-down path for the rows of `like`:
        none here; the labels in `kvae.ConditionalHierarchicalVAE`."""
        del like
        return {}

    def sample_terms(self, x, num_samples, noise, analytic_kl, training):
        features = [
            elbo.repeat_samples(f, num_samples)
            for f in self.call_encoder(x, training=training)
        ]
        shapes = self.decoder.latent_shapes
        kl_terms = [None] * len(shapes)

        def draw(g, prior, posterior):
            q_mean, q_log_var = (_flat32(t) for t in posterior)
            level = len(shapes) - 1 - g
            z = q_mean + ops.exp(0.5 * q_log_var) * noise(level, q_mean)
            if prior is None:
                kl = self.prior_kl(q_mean, q_log_var, z, analytic_kl)
            else:
                p_mean, p_log_var = (_flat32(t) for t in prior)
                if analytic_kl:
                    kl = elbo.gaussian_kl_per_dim(
                        q_mean, q_log_var, p_mean, p_log_var
                    )
                else:
                    kl = elbo.gaussian_log_prob(
                        z, q_mean, q_log_var
                    ) - elbo.gaussian_log_prob(z, p_mean, p_log_var)
            # One column per group: free bits floor the group's total.
            kl_terms[level] = _one_column(kl)
            return ops.reshape(z, (-1,) + shapes[g])

        decoder_output = ops.cast(
            self.top_down(features[0], features, draw), "float32"
        )
        log_likelihood = self.log_likelihood(
            x, decoder_output, num_samples, training
        )
        return log_likelihood, kl_terms, decoder_output

    def sample(self, n, seed=None, temperature=1.0):
        """Draws `n` images from the generative model: the top group from
        the prior, each lower group from its prior given the groups above.

        Args:
            n: int. Number of images.
            seed: int or `None`. With `None`, the model's own sampling
                `SeedGenerator` advances, so each call gives new images.
            temperature: float. Scales the standard deviation of every
                group's draw (NVAE's temperature).

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

    @property
    def path_dim(self):
        """Size of the codes of `encode_path` and `decode_path`: every
        group's dimensions, the top group's included."""
        self.check_built("path_dim")
        return sum(self.level_dims())

    def encode_path(self, x):
        """Codes of every group for images `x`, `(n, path_dim)`: what a
        sampler fitted to every level (`kvae.samplers`, `levels="all"`)
        fits its density to.

        The top group's posterior mean comes first, then, bottom group
        first, each lower group's posterior mean standardised by its prior
        given the groups above, `(q_mean - p_mean) / p_std`, along the
        path of posterior means. Under the prior these are standard normal
        draws; `decode_path` inverts the standardisation, so
        `decode_path(encode_path(x))` decodes the posterior means of every
        group, as `reconstruct(x)` does.
        """
        x = self._prepare_images(x)
        return self.inference_function("encode_path", self._encode_path)(x)

    def decode_path(self, codes):
        """Mean images for codes of every group, `(n, path_dim)`, laid out
        as `encode_path` gives them."""
        codes = ops.convert_to_tensor(codes, dtype="float32")
        if len(codes.shape) != 2 or codes.shape[-1] != self.path_dim:
            raise ValueError(
                f"decode_path() takes codes of every group, of shape (n, "
                f"{self.path_dim}), got {tuple(codes.shape)}."
            )
        top = self.level_dims()[-1]
        return self.inference_function("generate", self._generate)(
            codes[:, :top], codes[:, top:]
        )

    def _encode_path(self, x):
        features = self.call_encoder(x, training=False)
        shapes = self.decoder.latent_shapes
        codes = [None] * len(shapes)

        def standardise(g, prior, posterior):
            q_mean = _flat32(posterior[0])
            level = len(shapes) - 1 - g
            if prior is None:
                codes[level] = q_mean
            else:
                p_mean, p_log_var = (_flat32(t) for t in prior)
                codes[level] = (q_mean - p_mean) * ops.exp(-0.5 * p_log_var)
            return posterior[0]

        self.top_down(features[0], features, standardise)
        # The top group first, then the lower ones bottom first: the
        # layout of `_generate`'s (z, eps).
        return ops.concatenate([codes[-1]] + codes[:-1], axis=-1)

    def _decode(self, z):
        return self._generate(z, None)

    def _generate(self, z, eps):
        shapes = self.decoder.latent_shapes
        # eps holds the lower groups' noise, bottom first (level_dims).
        offsets = np.cumsum([0] + self.level_dims())

        def draw(g, prior, posterior):
            if prior is None:
                return ops.reshape(z, (-1,) + shapes[0])
            p_mean, p_log_var = (_flat32(t) for t in prior)
            code = p_mean
            if eps is not None:
                level = len(shapes) - 1 - g
                level_eps = eps[:, offsets[level] : offsets[level + 1]]
                code = p_mean + ops.exp(0.5 * p_log_var) * level_eps
            return ops.reshape(code, (-1,) + shapes[g])

        return elbo.output_mean(
            self.likelihood,
            ops.cast(self.top_down(z, None, draw), "float32"),
        )


def _flat32(t):
    """`t` as float32, flattened to `(batch, dims)`."""
    return ops.reshape(ops.cast(t, "float32"), (-1, int(np.prod(t.shape[1:]))))


def _one_column(kl):
    """A KL of `(n, dims)` or `(n,)` as its total, `(n, 1)`."""
    if len(kl.shape) == 2:
        return ops.sum(kl, axis=-1, keepdims=True)
    return ops.expand_dims(kl, -1)
