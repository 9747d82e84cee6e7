"""One SGD step of a fixed model on fixed data and noise, under the current
backend; writes the loss, the logs and the gradients to an .npz file. Two
cases: a Bernoulli VAE, and a Gaussian one with `sigma="optimal"`.

Run as `KERAS_BACKEND=jax python -m tests.parity_worker OUT.npz`.
"""

import sys

import keras
import numpy as np

import kvae

BATCH, LATENT = 8, 3
CASES = ("bernoulli", "optimal_sigma")


class FixedNoiseVAE(kvae.VAE):
    """Injects the same `eps` on every backend."""

    def draw_eps(self, z_mean):
        eps = np.random.default_rng(1).normal(size=(BATCH, LATENT))
        return keras.ops.convert_to_tensor(eps.astype("float32"))


def one_step(case="bernoulli"):
    keras.utils.clear_session()
    rng = np.random.default_rng(0)
    x = (rng.random((BATCH, 28, 28, 1)) < 0.3).astype("float32")
    likelihood = {}
    if case == "optimal_sigma":
        x = rng.random((BATCH, 28, 28, 1)).astype("float32")
        likelihood = {"likelihood": "gaussian", "sigma": "optimal"}
    model = FixedNoiseVAE(
        kvae.layers.ConvEncoder(LATENT, filters=(4, 8), dense_units=16),
        kvae.layers.ConvDecoder((28, 28, 1), filters=(8, 4), dense_units=16),
        **likelihood,
    )
    model.build((None, 28, 28, 1))
    variables = sorted(model.trainable_variables, key=lambda v: v.path)
    for v in variables:
        v.assign((0.1 * rng.standard_normal(v.shape)).astype("float32"))
    before = {v.path: keras.ops.convert_to_numpy(v).copy() for v in variables}
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1.0))
    history = model.fit(x, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    results = {f"log/{k}": np.float64(v[0]) for k, v in history.history.items()}
    for v in variables:
        # With plain SGD and lr=1, the update is exactly the gradient.
        after = keras.ops.convert_to_numpy(v)
        results[f"grad/{v.path}"] = before[v.path] - after
    if case == "optimal_sigma":
        results["log_sigma"] = keras.ops.convert_to_numpy(model.log_sigma)
    return results


def all_cases():
    return {
        f"{case}:{key}": value
        for case in CASES
        for key, value in one_step(case).items()
    }


if __name__ == "__main__":
    np.savez(sys.argv[1], **all_cases())
