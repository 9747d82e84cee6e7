"""`FlowSampler`: a normalising flow fitted to the codes."""

import keras
import numpy as np
from keras import ops

from kvae.model_args import check_counts
from kvae.model_args import check_number
from kvae.samplers.network_sampler import NetworkSampler
from kvae.samplers.real_nvp import RealNVP
from kvae.samplers.real_nvp import negative_log_likelihood


class FlowSampler(NetworkSampler):
    """A RealNVP normalising flow trained on the training codes.

    Where a Gaussian mixture needs one full covariance per component (and
    starts to copy the training codes once it has few codes per
    component), a flow is one smooth invertible map from `N(0, I)` to the
    codes, fitted by maximum likelihood. The codes are standardised per
    dimension; the flow (`kvae.samplers.real_nvp.RealNVP`: affine
    couplings, Dinh et al., 2017) is a Keras model trained with `fit` and
    Adam, its learning rate decaying to zero on a cosine. Sampling draws
    `u ~ N(0, temperature^2 I)` with NumPy and runs the flow backwards, so
    the same seed gives the same codes on every backend (to float
    rounding).

    Args:
        num_couplings: int. Coupling layers of the flow.
        hidden_units: tuple of int. Hidden layers of each coupling's MLP.
        epochs: int. Training epochs.
        batch_size: int. Its batch size.
        learning_rate: float. Adam's initial learning rate.
        temperature, seed, by_class: see `kvae.samplers.Sampler`.

    Attributes:
        flow: the trained `RealNVP` (after `fit`).
        history: its Keras training history dict (`loss`: `-log p` of a
            standardised code, in nats).

    Example:

    ```python
    sampler = kvae.samplers.FlowSampler(epochs=30).fit(model, x_train)
    images = sampler.sample(64, seed=0)
    ```

    Reference:
    - [Dinh, Sohl-Dickstein and Bengio, 2017](https://arxiv.org/abs/1605.08803)
    """

    def __init__(
        self,
        num_couplings=8,
        hidden_units=(256, 256),
        epochs=30,
        batch_size=256,
        learning_rate=1e-3,
        temperature=1.0,
        seed=0,
        by_class=None,
    ):
        super().__init__(temperature=temperature, seed=seed, by_class=by_class)
        check_counts(
            num_couplings=num_couplings, epochs=epochs, batch_size=batch_size
        )
        check_number("learning_rate", learning_rate, positive=True)
        self.num_couplings = int(num_couplings)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.epochs = int(epochs)
        self.batch_size = int(batch_size)
        self.learning_rate = float(learning_rate)
        self.flow = None
        self.history = None

    @classmethod
    def constructor_args(cls, config):
        keys = ("num_couplings", "epochs", "batch_size", "learning_rate")
        args = {key: config[key] for key in keys}
        return {
            **args,
            "hidden_units": tuple(config["hidden_units"]),
            "temperature": config["temperature"],
            "seed": config["seed"],
            "by_class": config.get("by_class"),
        }

    def _flow(self, dim):
        flow = RealNVP(
            dim,
            num_couplings=self.num_couplings,
            hidden_units=self.hidden_units,
            seed=self.seed,
            name="real_nvp",
        )
        flow.build((None, dim))
        return flow

    def fit_codes(self, codes, verbose):
        if len(codes) < 2:
            raise ValueError("A flow needs at least 2 training codes.")
        standardised = self.standardise(codes)
        self.flow = self._flow(codes.shape[1])
        steps = self.epochs * -(-len(codes) // self.batch_size)
        schedule = keras.optimizers.schedules.CosineDecay(
            self.learning_rate, steps
        )
        self.flow.compile(
            optimizer=keras.optimizers.Adam(schedule),
            loss=negative_log_likelihood,
        )
        history = self.flow.fit(
            standardised,
            np.zeros(len(codes), "float32"),
            epochs=self.epochs,
            batch_size=self.batch_size,
            verbose=1 if verbose in (1, "auto") else 0,
        )
        self.history = history.history

    def log_density(self, codes):
        """`log p(code)` of each row of `codes` (NumPy `(n, latent_dim)`)
        under the fitted flow, in nats."""
        if self.flow is None:
            raise ValueError(
                "This FlowSampler has no flow of its own: fit it first (a "
                "sampler fitted by class keeps one per class, in "
                "class_samplers)."
            )
        nll = ops.convert_to_numpy(self.flow(self.standardised(codes)))
        return -nll.astype("float64") - np.sum(np.log(self.scale))

    def draw(self, n, rng, temperature):
        u = temperature * rng.standard_normal((n, len(self.shift)))
        standardised = ops.convert_to_numpy(
            self.flow.inverse(ops.convert_to_tensor(u.astype("float32")))
        )
        return self.unstandardise(standardised)

    def state(self):
        config = self.constructor_args(vars(self))
        config["hidden_units"] = list(self.hidden_units)
        return self.network_state(self.flow, config)

    def set_state(self, config, arrays):
        self.flow = self.restore_network(self._flow, config, arrays)
