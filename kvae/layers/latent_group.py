import keras
from keras import ops

from kvae.layers.bottleneck_block import DEFAULT_ACTIVATION
from kvae.layers.bottleneck_block import BottleneckBlock

# Log-variances pass through `LIMIT * tanh(raw / LIMIT)`: NVAE's soft clamp
# of log sigma at 5, so no step can send a variance to 0 or infinity.
LOG_VAR_LIMIT = 10.0


def soft_clamp(log_var):
    """`log_var` smoothly clamped to (-LOG_VAR_LIMIT, LOG_VAR_LIMIT)."""
    return LOG_VAR_LIMIT * ops.tanh(log_var / LOG_VAR_LIMIT)


@keras.saving.register_keras_serializable(package="kvae")
class LatentGroup(keras.layers.Layer):
    """One latent group of the top-down path of `kvae.HierarchicalVAE`.

    A spatial Gaussian latent `z` of `latent_channels` channels, read off
    and written into the top-down state `h` (VDVAE's decoder block):

    - `prior(h)`: a zero-initialized `BottleneckBlock` gives the prior
      `p(z | z_above)`'s mean and log-variance and a shift added to `h`;
    - `posterior(h, features)`: a block on `h` concatenated with the
      encoder's map at this resolution gives `q(z | x, z_above)`;
    - `merge(h, z)`: `h + conv1x1(z)`, then a residual block: every group
      feeds the state that becomes the image.

    Log-variances are soft-clamped to (-10, 10). The top group (`top=True`)
    has no prior block: its prior is the model's `prior`.

    Args:
        width: int. Channels of the top-down state.
        latent_channels: int. Channels of `z`.
        bottleneck: int. Channels inside the blocks.
        top: bool. The first group of the path.
        scale: float. Initial scale of the group's writes into the state
            (VDVAE scales them by `1 / number of groups`).
        activation: str. The blocks' activation (`BottleneckBlock`).
    """

    def __init__(
        self,
        width,
        latent_channels,
        bottleneck,
        top=False,
        scale=1.0,
        activation=DEFAULT_ACTIVATION,
        **kwargs,
    ):
        super().__init__(**kwargs)
        # Checked by the blocks below, built here.
        self.activation = activation
        self.width = int(width)
        self.latent_channels = int(latent_channels)
        self.bottleneck = int(bottleneck)
        self.top = bool(top)
        self.scale = float(scale)
        policy = self.dtype_policy
        self.posterior_net = BottleneckBlock(
            2 * self.latent_channels,
            bottleneck,
            residual=False,
            activation=self.activation,
            dtype=policy,
        )
        self.prior_net = None
        if not self.top:
            self.prior_net = BottleneckBlock(
                2 * self.latent_channels + self.width,
                bottleneck,
                residual=False,
                last_scale=0.0,
                activation=self.activation,
                dtype=policy,
            )
        self.z_proj = keras.layers.Conv2D(
            self.width,
            1,
            kernel_initializer=keras.initializers.VarianceScaling(self.scale),
            dtype=policy,
        )
        self.resnet = BottleneckBlock(
            self.width,
            bottleneck,
            last_scale=self.scale,
            activation=self.activation,
            dtype=policy,
        )
        # A container: its blocks build on their first call.
        self.built = True

    def prior(self, state):
        """`(mean, log_var, state)`: the prior and the shifted state."""
        out = self.prior_net(state)
        c = self.latent_channels
        mean, log_var, shift = (
            out[..., :c],
            out[..., c : 2 * c],
            out[..., 2 * c :],
        )
        return mean, soft_clamp(log_var), state + shift

    def posterior(self, state, features):
        """`(mean, log_var)` of `q(z | x, z_above)`."""
        out = self.posterior_net(ops.concatenate([state, features], axis=-1))
        c = self.latent_channels
        return out[..., :c], soft_clamp(out[..., c:])

    def merge(self, state, z):
        """The state after writing `z` into it."""
        return self.resnet(state + self.z_proj(z))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "width": self.width,
                "latent_channels": self.latent_channels,
                "bottleneck": self.bottleneck,
                "top": self.top,
                "scale": self.scale,
                "activation": self.activation,
            }
        )
        return config
