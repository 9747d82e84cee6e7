"""One SGD step of fixed models on fixed data and noise, under the current
backend; writes the losses, the logs and the gradients to an .npz file.

Run as `KERAS_BACKEND=jax python -m tests.parity_worker OUT.npz`. Each key
is `"<model>|log/<name>"` or `"<model>|grad/<variable path>"`, for every
model of `MODELS`.
"""

import sys

import keras
import numpy as np

import kvae
from tests.helpers import tiny_hierarchical_layers

BATCH, LATENT = 8, 3


class FixedNoise:
    """Injects the same `eps` on every backend: a function of the noise's
    shape only (the batch size is fixed, so it is known when tracing)."""

    def draw_eps(self, z_mean):
        rows = self.num_samples * BATCH
        rng = np.random.default_rng(z_mean.shape[-1])
        eps = rng.normal(size=(rows, z_mean.shape[-1]))
        return keras.ops.convert_to_tensor(eps.astype("float32"))


class FixedNoiseVAE(FixedNoise, kvae.VAE):
    pass


class FixedNoiseHierarchicalVAE(FixedNoise, kvae.HierarchicalVAE):
    pass


class FixedNoiseConditionalVAE(FixedNoise, kvae.ConditionalVAE):
    pass


class FixedNoiseConditionalHierarchicalVAE(
    FixedNoise, kvae.ConditionalHierarchicalVAE
):
    pass


def conditional_vae(**kwargs):
    return FixedNoiseConditionalVAE(
        kvae.layers.ConvEncoder(LATENT, filters=(4, 8), dense_units=16),
        kvae.layers.ConvDecoder((28, 28, 1), filters=(8, 4), dense_units=16),
        num_classes=3,
        **kwargs,
    )


def conv_vae(**kwargs):
    return FixedNoiseVAE(
        kvae.layers.ConvEncoder(LATENT, filters=(4, 8), dense_units=16),
        kvae.layers.ConvDecoder((28, 28, 1), filters=(8, 4), dense_units=16),
        **kwargs,
    )


def hierarchical_vae(**kwargs):
    return FixedNoiseHierarchicalVAE(
        *tiny_hierarchical_layers((28, 28, 1)), **kwargs
    )


MODELS = {
    "vae": lambda: conv_vae(),
    "vamp_prior": lambda: conv_vae(
        prior=kvae.priors.VampPrior(num_components=4, clip_range=None)
    ),
    "mixture_iwae": lambda: conv_vae(
        prior="mixture_of_gaussians", objective="iwae", num_samples=3
    ),
    "free_bits": lambda: conv_vae(free_bits=0.5, num_samples=2),
    "hierarchical": lambda: hierarchical_vae(),
    "optimal_sigma": lambda: conv_vae(likelihood="gaussian", sigma="optimal"),
    "hierarchical_vamp_iwae": lambda: hierarchical_vae(
        prior=kvae.priors.VampPrior(num_components=4, clip_range=None),
        objective="iwae",
        num_samples=2,
    ),
    "conditional": lambda: conditional_vae(),
    "conditional_iwae": lambda: conditional_vae(
        objective="iwae", num_samples=2
    ),
    "conditional_class_prior": lambda: conditional_vae(
        prior="class_gaussian", num_samples=2
    ),
    "conditional_hierarchical": lambda: FixedNoiseConditionalHierarchicalVAE(
        *tiny_hierarchical_layers((28, 28, 1)),
        num_classes=3,
        prior="class_gaussian",
        num_samples=2,
    ),
}


def one_step(name="vae"):
    keras.utils.clear_session()
    rng = np.random.default_rng(0)
    x = (rng.random((BATCH, 28, 28, 1)) < 0.3).astype("float32")
    if name == "optimal_sigma":
        x = rng.random((BATCH, 28, 28, 1)).astype("float32")
    model = MODELS[name]()
    model.build((None, 28, 28, 1))
    variables = sorted(model.trainable_variables, key=lambda v: v.path)
    for v in variables:
        v.assign((0.1 * rng.standard_normal(v.shape)).astype("float32"))
    before = {v.path: keras.ops.convert_to_numpy(v).copy() for v in variables}
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1.0))
    labels = np.arange(BATCH) % 3 if name.startswith("conditional") else None
    history = model.fit(
        x, labels, batch_size=BATCH, epochs=1, shuffle=False, verbose=0
    )
    results = {f"log/{k}": np.float64(v[0]) for k, v in history.history.items()}
    for v in variables:
        # With plain SGD and lr=1, the update is exactly the gradient.
        after = keras.ops.convert_to_numpy(v)
        results[f"grad/{v.path}"] = before[v.path] - after
    if name == "optimal_sigma":
        results["log_sigma"] = keras.ops.convert_to_numpy(model.log_sigma)
    return results


def all_steps():
    return {
        f"{name}|{key}": value
        for name in MODELS
        for key, value in one_step(name).items()
    }


if __name__ == "__main__":
    np.savez(sys.argv[1], **all_steps())
