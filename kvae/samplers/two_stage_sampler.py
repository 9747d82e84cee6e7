"""`TwoStageSampler`: a second VAE trained on the first one's codes."""

import keras

from kvae.model_args import check_counts
from kvae.samplers.network_sampler import NetworkSampler
from kvae.samplers.sampler import decode_codes


class TwoStageSampler(NetworkSampler):
    """A second, small `kvae.VAE` that learns the density of the codes.

    Dai and Wipf's two-stage VAE: the first VAE's codes do not fill its
    prior, but a second VAE trained on those codes (standardised per
    dimension) can fill its own, because codes are low-dimensional and
    smooth. Sampling draws `u ~ N(0, temperature^2 I)`, decodes it with the
    second VAE into a code, and decodes that with the first. The second VAE
    is kvae's own model on a new kind of data: `MLPEncoder` and
    `MLPDecoder` layers, a Gaussian likelihood with the "optimal" sigma
    (the reference learns sigma too, so the second stage can fit the
    codes closely), trained with `fit`.

    Args:
        latent_dim: int or `None`. The second VAE's latent size (`None`:
            the first VAE's, as in the reference).
        hidden_units: tuple of int. Hidden layers of the second VAE's
            encoder and decoder.
        epochs: int. Training epochs of the second VAE.
        batch_size: int. Its batch size.
        learning_rate: float. Its Adam learning rate.
        warmup_fraction: float. The fraction of the training steps over
            which the KL weight rises from 0 to 1. Without it the second
            VAE collapses at once: standardised codes have an RMSE of 1
            under the collapsed model, so the optimal sigma stays at 1 and
            the KL term keeps the posterior at the prior (measured on the
            KMNIST and Stanford Dogs codes: a KL of 1e-5 nats).
        temperature, seed, by_class: see `kvae.samplers.Sampler`.

    Attributes:
        second_stage: the trained second `kvae.VAE` (after `fit`).
        history: its Keras training history dict.

    Example:

    ```python
    sampler = kvae.samplers.TwoStageSampler(epochs=50).fit(model, x_train)
    images = sampler.sample(64, seed=0)
    ```

    Reference:
    - [Dai and Wipf, 2019](https://arxiv.org/abs/1903.05789)
    """

    def __init__(
        self,
        latent_dim=None,
        hidden_units=(512, 512),
        epochs=50,
        batch_size=128,
        learning_rate=1e-3,
        warmup_fraction=0.3,
        temperature=1.0,
        seed=0,
        by_class=None,
    ):
        super().__init__(temperature=temperature, seed=seed, by_class=by_class)
        check_counts(epochs=epochs, batch_size=batch_size)
        self.second_latent_dim = None if latent_dim is None else int(latent_dim)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.epochs = int(epochs)
        self.batch_size = int(batch_size)
        self.learning_rate = float(learning_rate)
        if not 0 <= warmup_fraction <= 1:
            raise ValueError(
                f"warmup_fraction must be in [0, 1], got {warmup_fraction!r}."
            )
        self.warmup_fraction = float(warmup_fraction)
        self.second_stage = None
        self.warmup_steps = 0
        self.history = None

    @classmethod
    def constructor_args(cls, config):
        return {
            "latent_dim": config["second_latent_dim"],
            "hidden_units": tuple(config["hidden_units"]),
            "epochs": config["epochs"],
            "batch_size": config["batch_size"],
            "learning_rate": config["learning_rate"],
            "warmup_fraction": config["warmup_fraction"],
            "temperature": config["temperature"],
            "seed": config["seed"],
            "by_class": config.get("by_class"),
        }

    def _second_stage(self, code_dim, warmup_steps=0):
        """The second VAE, untrained, for codes of `code_dim` dimensions."""
        from kvae import layers
        from kvae.vae import VAE

        return VAE(
            layers.MLPEncoder(
                self.second_latent_dim, hidden_units=self.hidden_units
            ),
            layers.MLPDecoder(
                output_shape=(code_dim,),
                hidden_units=self.hidden_units[::-1],
            ),
            likelihood="gaussian",
            sigma="optimal",
            image_metrics=False,
            kl_warmup_steps=warmup_steps,
            seed=self.seed,
            name="two_stage_vae",
        )

    def fit_codes(self, codes, verbose):
        standardised = self.standardise(codes)
        self.second_latent_dim = self.second_latent_dim or codes.shape[1]
        steps = self.epochs * -(-len(codes) // self.batch_size)
        self.warmup_steps = int(self.warmup_fraction * steps)
        self.second_stage = self._second_stage(
            codes.shape[1], self.warmup_steps
        )
        self.second_stage.compile(
            optimizer=keras.optimizers.Adam(self.learning_rate)
        )
        history = self.second_stage.fit(
            standardised,
            epochs=self.epochs,
            batch_size=self.batch_size,
            verbose=1 if verbose in (1, "auto") else 0,
        )
        self.history = history.history

    def draw(self, n, rng, temperature):
        u = temperature * rng.standard_normal((n, self.second_latent_dim))
        return self.unstandardise(
            decode_codes(self.second_stage, u.astype("float32"))
        )

    def state(self):
        config = {
            "second_latent_dim": self.second_latent_dim,
            "hidden_units": list(self.hidden_units),
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "learning_rate": self.learning_rate,
            "warmup_fraction": self.warmup_fraction,
            "warmup_steps": self.warmup_steps,
        }
        return self.network_state(self.second_stage, config)

    def set_state(self, config, arrays):
        # The same model as was trained: a warm-up adds a step counter
        # to the weights.
        self.warmup_steps = config["warmup_steps"]

        def build(code_dim):
            model = self._second_stage(code_dim, self.warmup_steps)
            model.build((None, code_dim))
            return model

        self.second_stage = self.restore_network(build, config, arrays)
