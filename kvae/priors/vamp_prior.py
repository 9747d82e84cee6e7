import math

import keras
from keras import ops

from kvae import model_args
from kvae.priors.prior import Prior
from kvae.priors.prior import split_seed
from kvae.priors.utils import check_clip_range
from kvae.priors.utils import check_num_components
from kvae.priors.utils import check_pseudo_input_shape
from kvae.priors.utils import check_seed
from kvae.priors.utils import mixture_log_prob


@keras.saving.register_keras_serializable(package="kvae")
class VampPrior(Prior):
    """The VampPrior: a uniform mixture of the encoder's posteriors at `K`
    learned pseudo-inputs, `p(z) = (1/K) sum_k q(z | u_k)`.

    The pseudo-inputs `u_k` are weights of this prior, images of the data's
    shape; the posteriors are computed by the model's own encoder at every
    step, so the prior moves with the encoder (and its gradients reach the
    encoder too). The model hands its inference path over with
    `set_encoder` when it is built: the prior keeps a function, not the
    encoder layer, so the encoder's weights are tracked and saved once, by
    the model, and the saved prior holds only its pseudo-inputs. The KL
    term is estimated from the drawn `z` (`log q(z | x) - log p(z)`).

    Args:
        num_components: int. Number of pseudo-inputs `K` (500 in the paper
            for MNIST).
        pseudo_input_shape: tuple of int or `None`. Shape of one
            pseudo-input; it must match the encoder's input. `None` takes
            the shape of the data the model is built for.
        init_mean: float. Mean of the random initial pseudo-inputs.
        init_stddev: float. Their standard deviation.
        clip_range: pair of floats or `None`. The pseudo-inputs are clipped
            to this range before the encoder sees them (the paper's
            hard-tanh for images in [0, 1]); `None` leaves them free.
        seed: int or `None`. Seed of the initial pseudo-inputs.

    Example:

    ```python
    model = kvae.VAE(
        kvae.layers.ConvEncoder(16),
        kvae.layers.ConvDecoder(),
        prior=kvae.priors.VampPrior(num_components=50),
    )
    ```

    Reference:
    - [Tomczak and Welling, 2018](https://arxiv.org/abs/1705.07120)
    """

    needs_encoder = True

    def __init__(
        self,
        num_components=500,
        pseudo_input_shape=None,
        init_mean=0.05,
        init_stddev=0.01,
        clip_range=(0.0, 1.0),
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_components = check_num_components(num_components)
        self.pseudo_input_shape = check_pseudo_input_shape(pseudo_input_shape)
        model_args.check_number("init_mean", init_mean)
        model_args.check_number("init_stddev", init_stddev, positive=True)
        self.init_mean = float(init_mean)
        self.init_stddev = float(init_stddev)
        self.clip_range = check_clip_range(clip_range)
        self.seed = check_seed(seed)
        self.encode_fn = None
        self.image_shape = None

    def set_encoder(self, encode_fn, image_shape):
        """Hands the prior the model's inference path.

        Args:
            encode_fn: callable. Maps images `(n, *image_shape)` to the
                posterior `(z_mean, z_log_var)` of this prior's latent
                level, each `(n, latent_dim)`.
            image_shape: tuple of int. The encoder's input shape.
        """
        image_shape = tuple(int(s) for s in image_shape)
        if (
            self.pseudo_input_shape is not None
            and self.pseudo_input_shape != image_shape
        ):
            raise ValueError(
                f"The VampPrior's pseudo-inputs have shape "
                f"{self.pseudo_input_shape}, but the encoder takes images of "
                f"shape {image_shape}. Pass pseudo_input_shape={image_shape}"
                " or None (the data's shape)."
            )
        self.encode_fn = encode_fn
        self.image_shape = image_shape

    def build(self, input_shape):
        if self.encode_fn is None:
            raise ValueError(
                "A VampPrior is defined through an encoder: give it to "
                "kvae.VAE(..., prior=VampPrior(...)), which hands it the "
                "encoder when the model is built."
            )
        super().build(input_shape)
        self.pseudo_inputs = self.add_weight(
            name="pseudo_inputs",
            shape=(self.num_components,) + self.image_shape,
            initializer=keras.initializers.RandomNormal(
                mean=self.init_mean, stddev=self.init_stddev, seed=self.seed
            ),
            autocast=False,
        )

    def get_build_config(self):
        # Built by the model that hands it the encoder, never on its own.
        return None

    def components(self):
        """The posteriors `(means, log_vars)` at the pseudo-inputs, each
        `(num_components, latent_dim)`."""
        inputs = ops.cast(self.pseudo_inputs, "float32")
        if self.clip_range is not None:
            inputs = ops.clip(inputs, *self.clip_range)
        means, log_vars = self.encode_fn(inputs)
        return ops.cast(means, "float32"), ops.cast(log_vars, "float32")

    def log_prob(self, z):
        z = ops.convert_to_tensor(z, dtype="float32")
        means, log_vars = self.components()
        log_weight = -math.log(self.num_components)
        return mixture_log_prob(z, means, log_vars, log_weight)

    def sample(self, n, seed, temperature=1.0):
        component_seed, noise_seed = split_seed(seed)
        means, log_vars = self.components()
        components = keras.random.randint(
            (int(n),), 0, self.num_components, seed=component_seed
        )
        means = ops.take(means, components, axis=0)
        log_vars = ops.take(log_vars, components, axis=0)
        eps = keras.random.normal(ops.shape(means), seed=noise_seed)
        return means + temperature * ops.exp(0.5 * log_vars) * eps

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_components": self.num_components,
                "pseudo_input_shape": self.pseudo_input_shape,
                "init_mean": self.init_mean,
                "init_stddev": self.init_stddev,
                "clip_range": self.clip_range,
                "seed": self.seed,
            }
        )
        return config
