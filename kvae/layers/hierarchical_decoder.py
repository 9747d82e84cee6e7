import math

import keras
from keras import ops

from kvae.layers.bottleneck_block import BLOCK_ACTIVATIONS
from kvae.layers.bottleneck_block import DEFAULT_ACTIVATION
from kvae.layers.bottleneck_block import BottleneckBlock
from kvae.layers.bottleneck_block import check_activation
from kvae.layers.label_conditioning import DEFAULT_MODE
from kvae.layers.label_conditioning import conditioned
from kvae.layers.label_conditioning import conditioning_stages
from kvae.layers.latent_group import LatentGroup
from kvae.layers.utils import check_image_shape
from kvae.layers.utils import check_resolutions
from kvae.layers.utils import check_resolutions_fit
from kvae.layers.utils import depth_to_space
from kvae.layers.utils import positive_ints


@keras.saving.register_keras_serializable(package="kvae")
class HierarchicalDecoder(keras.layers.Layer):
    """The top-down path of `kvae.HierarchicalVAE`, shared by the
    generative model and the inference model.

    A learned state `h` of `width` channels starts at the smallest
    resolution. At each resolution, smallest first, `groups` latent groups
    (`kvae.layers.LatentGroup`) each compute their prior from `h` (and,
    when inferring, their posterior from `h` and the encoder's map of that
    resolution), draw `z` and write it back into `h`; `h` is then
    upsampled (nearest) to the next resolution. After the last one, `h`
    passes `output_blocks` residual blocks and a 3x3 convolution to the
    image's channels times `f * f`, rearranged to the image size
    (`depth_to_space` by `f`, the image side over the largest
    resolution): no block runs at the full image size, which keeps the
    path fast on a CPU. Every
    group's code reaches the image through `h`, none only through the one
    below it (NVAE, VDVAE).

    `top_down(batch, features, choose)` runs the path; `call(z_top)`
    decodes a top-group code with every lower group at its prior mean
    (`decode`).

    Args:
        output_shape: tuple `(height, width, channels)` of the images.
        resolutions: tuple of ints. Heights of the latent maps, smallest
            first after sorting; the encoder's must be the same.
        groups: int or tuple of ints. Latent groups per resolution.
        latent_channels: int. Channels of every group's `z`.
        width: int. Channels of the state `h`.
        bottleneck: int. Channels inside the blocks.
        output_blocks: int. Residual blocks at the image size.
        conditioning: str. How a `condition` (a label embedding, in
            `kvae.ConditionalHierarchicalVAE`) enters the state: into the
            initial state and after every group's write, `"film"` or
            `"bias"` (see `kvae.layers.LabelConditioning`). So every
            group's prior and posterior, and the image, see the label.
        activation: str. The activation of every block and before the
            last convolution, `"gelu"` or `"silu"`
            (`kvae.layers.BottleneckBlock`).

    Example:

    ```python
    decoder = kvae.layers.HierarchicalDecoder(
        (28, 28, 1), resolutions=(7, 14), groups=(2, 2)
    )
    decoder.latent_shapes  # [(7, 7, 8), (7, 7, 8), (14, 14, 8), (14, 14, 8)]
    ```

    Reference:
    - [Vahdat and Kautz, 2020](https://arxiv.org/abs/2007.03898) (NVAE)
    - [Child, 2021](https://arxiv.org/abs/2011.10650) (VDVAE)
    """

    def __init__(
        self,
        output_shape,
        resolutions=(7, 14),
        groups=2,
        latent_channels=8,
        width=64,
        bottleneck=16,
        output_blocks=1,
        conditioning=DEFAULT_MODE,
        activation=DEFAULT_ACTIVATION,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.activation = check_activation(activation)
        self.output_shape = check_image_shape(output_shape, 0)
        self.resolutions = check_resolutions(resolutions)
        if isinstance(groups, int) and not isinstance(groups, bool):
            groups = (groups,) * len(self.resolutions)
        self.groups = positive_ints(
            "groups", groups, "the number of latent groups per resolution"
        )
        if len(self.groups) != len(self.resolutions):
            raise ValueError(
                f"groups gives a count for {len(self.groups)} resolutions, "
                f"but there are {len(self.resolutions)} "
                f"({self.resolutions}): give one count per resolution."
            )
        self.latent_channels, self.width, self.bottleneck = positive_ints(
            "latent_channels, width and bottleneck",
            (latent_channels, width, bottleneck),
            "each at least 1 (a latent group needs at least one channel)",
        )
        if not isinstance(output_blocks, int) or output_blocks < 0:
            raise ValueError(
                f"output_blocks must be an int >= 0, got {output_blocks!r}."
            )
        self.output_blocks = output_blocks
        self.upsampling = check_resolutions_fit(
            self.resolutions, self.output_shape, "decoder"
        )
        self.group_resolutions = [
            i for i, count in enumerate(self.groups) for _ in range(count)
        ]
        policy = self.dtype_policy
        scale = 1.0 / len(self.group_resolutions)
        self.latent_groups = [
            LatentGroup(
                self.width,
                self.latent_channels,
                self.bottleneck,
                top=g == 0,
                scale=scale,
                activation=self.activation,
                dtype=policy,
            )
            for g in range(len(self.group_resolutions))
        ]
        self.output_stack = [
            BottleneckBlock(
                self.width,
                self.bottleneck,
                last_scale=1.0 / max(self.output_blocks, 1),
                activation=self.activation,
                dtype=policy,
            )
            for _ in range(self.output_blocks)
        ]
        self.output_conv = keras.layers.Conv2D(
            self.output_shape[-1] * self.upsampling**2,
            3,
            padding="same",
            dtype=policy,
        )
        self.top_state = None
        self.conditioning = conditioning
        # The initial state's, then one per group; built only when a
        # condition is given.
        self.label_stages = conditioning_stages(
            [self.width] * (len(self.latent_groups) + 1),
            conditioning,
            policy,
        )

    @property
    def latent_shapes(self):
        """`(height, width, channels)` of every group's `z`, top first."""
        height, width = self.output_shape[:2]
        return [
            (
                self.resolutions[i],
                width // (height // self.resolutions[i]),
                self.latent_channels,
            )
            for i in self.group_resolutions
        ]

    def build(self, input_shape=None):
        top = self.latent_shapes[0]
        self.top_state = self.add_weight(
            name="top_state",
            shape=top[:2] + (self.width,),
            initializer="zeros",
        )
        self.built = True
        # Builds the prior path; the posterior blocks build when the model
        # first runs inference (`kvae.HierarchicalVAE.build`).
        self.call(
            keras.KerasTensor((None, self.top_dim), dtype=self.compute_dtype)
        )

    @property
    def top_dim(self):
        """Size of the top group's flattened code: what `call` takes."""
        h, w, c = self.latent_shapes[0]
        return h * w * c

    def initial_state(self, like, condition=None):
        """The learned top state, once per image of the batch `like`, with
        the label `condition` mixed in when one is given."""
        size = math.prod(like.shape[1:])
        zeros = ops.zeros_like(ops.reshape(like, (-1, size))[:, :1])
        zeros = ops.reshape(zeros, (-1, 1, 1, 1))
        state = ops.cast(zeros, self.compute_dtype) + ops.cast(
            self.top_state, self.compute_dtype
        )
        return conditioned(self.label_stages, state, condition, 0)

    def top_down(self, like, features, choose, condition=None):
        """Runs the top-down path for a batch of images.

        Args:
            like: a tensor whose first axis is the batch (the top code,
                or the images).
            features: the encoder's maps, smallest first, or `None` when
                generating.
            choose: callable `(group, prior, posterior) -> z`: `group` is
                the index (0 is the top), `prior` the pair `(mean,
                log_var)` of `p(z | z_above)` (`None` for the top group,
                whose prior is the model's), `posterior` the pair of
                `q(z | x, z_above)` (`None` without `features`). It returns
                the group's code, of the group's `latent_shapes` entry.
            condition: tensor `(batch, condition_dim)` or `None`: the
                label embedding of a conditional model.

        Returns:
            The decoder output `(batch, *output_shape)`.
        """
        state = self.initial_state(like, condition)
        for g, (group, i) in enumerate(
            zip(self.latent_groups, self.group_resolutions)
        ):
            if g and i != self.group_resolutions[g - 1]:
                factor = self.resolutions[i] // self.resolutions[i - 1]
                state = _upsample(state, factor)
            prior = None
            if not group.top:
                mean, log_var, state = group.prior(state)
                prior = (mean, log_var)
            posterior = None
            if features is not None:
                posterior = group.posterior(state, features[i])
            state = group.merge(state, choose(g, prior, posterior))
            state = conditioned(self.label_stages, state, condition, g + 1)
        for block in self.output_stack:
            state = block(state)
        out = self.output_conv(BLOCK_ACTIVATIONS[self.activation](state))
        return depth_to_space(out, self.upsampling)

    def call(self, inputs, condition=None):
        top = ops.reshape(inputs, (-1,) + self.latent_shapes[0])

        def prior_means(g, prior, posterior):
            return top if g == 0 else prior[0]

        return self.top_down(inputs, None, prior_means, condition)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + self.output_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "output_shape": self.output_shape,
                "resolutions": self.resolutions,
                "groups": self.groups,
                "latent_channels": self.latent_channels,
                "width": self.width,
                "bottleneck": self.bottleneck,
                "output_blocks": self.output_blocks,
                "conditioning": self.conditioning,
                "activation": self.activation,
            }
        )
        return config


def _upsample(x, factor):
    """Nearest-neighbour upsampling by a whole `factor` (a broadcast and a
    reshape: `ops.repeat` is several times slower under TensorFlow)."""
    if factor == 1:
        return x
    _, height, width, channels = x.shape
    x = ops.broadcast_to(
        x[:, :, None, :, None, :],
        (ops.shape(x)[0], height, factor, width, factor, channels),
    )
    return ops.reshape(x, (-1, height * factor, width * factor, channels))
