"""The inference API of `kvae.VAE`: encode, decode, reconstruct, sample and
importance weights, each compiled once per backend (see `kvae.backend`)."""

import numpy as np
from keras import ops

from kvae import contracts
from kvae import elbo
from kvae import model_args
from kvae.backend import compile_inference
from kvae.model_args import check_temperature


class InferenceMixin:
    """`kvae.VAE`'s inference methods; the model supplies `posterior`,
    `sample_terms`, `level_dims`, `prior`, `decoder` and `likelihood`."""

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
        return self.inference_function("encode", self.posterior)(x)

    def decode(self, z):
        """Mean image of `p(x | z)` in data space for latent codes `z`."""
        self.check_built("decode()")
        z = ops.convert_to_tensor(z, dtype="float32")
        if len(z.shape) != 2 or z.shape[-1] != self.latent_dim:
            raise ValueError(
                f"decode() takes latent codes of shape (n, {self.latent_dim}),"
                f" got {tuple(z.shape)}."
            )
        return self.inference_function("decode", self._decode)(z)

    def reconstruct(self, x):
        """Deterministic reconstruction: the decoded posterior mean."""
        x = self._prepare_images(x)
        return self.inference_function("reconstruct", self.call)(x)

    def sample(self, n, seed=None, temperature=1.0):
        """Decodes `n` draws from the prior `p(z)`.

        Args:
            n: int. Number of images.
            seed: int or `None`. With `None`, the model's own sampling
                `SeedGenerator` advances, so each call gives new images.
            temperature: float. Scales the prior's standard deviation
                (below 1 trades diversity for fidelity, as in NVAE).

        Returns:
            Tensor `(n, *image_shape)` of mean images.
        """
        return self.decode(self.sample_latent(n, seed, temperature))

    def sample_latent(self, n, seed=None, temperature=1.0):
        """Draws `n` latent codes from the prior `p(z)`, as `decode` takes
        them (the top level's in a hierarchical model).

        `model.decode(model.sample_latent(n, seed))` is `model.sample(n,
        seed)` for `kvae.VAE`. The same int `seed` draws the same points
        from the same prior, and from a learned prior as it changes, the
        same noise moved with it: `kvae.callbacks.SampleGIF` relies on it.

        Args:
            n: int. Number of codes.
            seed: int, `keras.random.SeedGenerator` or `None`. With `None`,
                the model's own sampling `SeedGenerator` advances.
            temperature: float. Scales the prior's standard deviation.

        Returns:
            float32 tensor `(n, latent_dim)`.
        """
        self.check_sample_count(n)
        temperature = check_temperature(temperature)
        if seed is None:
            seed = self.sample_seed_generator
        return ops.stop_gradient(
            self.prior.sample(int(n), seed, temperature=temperature)
        )

    def check_sample_count(self, n):
        """Raises unless the model is built and `n` is a positive int."""
        self.check_built("sample()")
        model_args.check_sample_count(n)

    def check_built(self, what):
        """Raises `ValueError` unless the model is built: its prior and
        decoder know their sizes only then (compiling does not build)."""
        if not self.built:
            raise ValueError(
                f"{what} needs a built model, and this one is not built "
                "yet (compile() does not build it): build the model first, "
                "with fit(), model.build((None, *image_shape)), or encode() "
                "or reconstruct() on a batch of images."
            )

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
        expected = (None, x.shape[0], self.total_latent_dim)
        if len(eps.shape) != 3 or not contracts.shapes_match(
            expected, tuple(eps.shape)
        ):
            raise ValueError(
                f"eps must have shape (k, batch={x.shape[0]}, "
                f"total_latent_dim={self.total_latent_dim}): k noise draws "
                f"for each of the {x.shape[0]} images; got "
                f"{tuple(eps.shape)}."
            )
        return self.inference_function("log_weights", self._log_weights)(x, eps)

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
            ops.cast(self.call_decoder(z), "float32"),
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
        if name not in self._inference_functions:
            self._inference_functions[name] = compile_inference(self, fn)
        return self._inference_functions[name]

    def _prepare_images(self, x):
        """`x` as a float32 tensor; builds the model for its shape first
        if it is not built yet, or checks that it is the shape the model
        was built for (see `check_image_shape`)."""
        x = ops.convert_to_tensor(x, dtype="float32")
        self.check_image_shape(x.shape, "images")
        return x
