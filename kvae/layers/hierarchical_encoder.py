import keras

from kvae.layers.bottleneck_block import DEFAULT_ACTIVATION
from kvae.layers.bottleneck_block import BottleneckBlock
from kvae.layers.bottleneck_block import check_activation
from kvae.layers.label_conditioning import DEFAULT_MODE
from kvae.layers.label_conditioning import conditioned
from kvae.layers.label_conditioning import conditioning_stages
from kvae.layers.utils import build_by_tracing
from kvae.layers.utils import check_resolutions
from kvae.layers.utils import check_resolutions_fit
from kvae.layers.utils import positive_ints
from kvae.layers.utils import space_to_depth


@keras.saving.register_keras_serializable(package="kvae")
class HierarchicalEncoder(keras.layers.Layer):
    """The bottom-up path of `kvae.HierarchicalVAE`: residual feature maps
    at every latent resolution.

    The image is rearranged to the largest resolution (`space_to_depth`:
    each `f x f` patch becomes one position's channels) and a 3x3
    convolution lifts it to `width` channels; then, from the largest
    resolution down to the smallest, each gets `blocks` residual
    `BottleneckBlock`s and an average pooling to the next.
    The map after the blocks of each size in `resolutions` is an output:
    the posterior of every latent group at that size reads it.

    Args:
        resolutions: tuple of ints. Heights of the latent maps, such as
            `(7, 14)` for 28x28 images; each a multiple of the next
            smaller, the largest dividing the image size.
        width: int. Channels of the residual path.
        blocks: int. Residual blocks per size.
        bottleneck: int. Channels inside each block (its 3x3 convolutions).
        conditioning: str. How a `condition` given to `call` enters the
            path after each block: `"film"` or `"bias"` (see
            `kvae.layers.LabelConditioning`).
        activation: str. The blocks' activation, `"gelu"` or `"silu"`
            (`kvae.layers.BottleneckBlock`).

    Call arguments:
        inputs: images `(batch, height, width, channels)`.
        condition: tensor `(batch, condition_dim)` or `None`. A label
            embedding (`kvae.ConditionalHierarchicalVAE`); `None` for an
            unconditional model, whose layer then holds no label weights.

    Returns:
        List of feature maps `(batch, r, r * width / height, width)`, one
        per resolution, smallest first.

    Example:

    ```python
    encoder = kvae.layers.HierarchicalEncoder(resolutions=(7, 14))
    maps = encoder(np.zeros((2, 28, 28, 1), "float32"))
    [tuple(m.shape) for m in maps]  # [(2, 7, 7, 64), (2, 14, 14, 64)]
    ```
    """

    def __init__(
        self,
        resolutions=(7, 14),
        width=64,
        blocks=2,
        bottleneck=16,
        conditioning=DEFAULT_MODE,
        activation=DEFAULT_ACTIVATION,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.activation = check_activation(activation)
        self.resolutions = check_resolutions(resolutions)
        self.width, self.blocks, self.bottleneck = positive_ints(
            "width, blocks and bottleneck",
            (width, blocks, bottleneck),
            "each at least 1",
        )
        self.stem = keras.layers.Conv2D(
            self.width, 3, padding="same", dtype=self.dtype_policy
        )
        self.stages = None
        self.patch = None
        self.conditioning = conditioning
        # One per block; they build only when a condition is given.
        self.label_stages = conditioning_stages(
            [self.width] * (len(self.resolutions) * self.blocks),
            conditioning,
            self.dtype_policy,
        )

    def build(self, input_shape):
        image_shape = tuple(input_shape[1:])
        self.patch = check_resolutions_fit(
            self.resolutions, image_shape, "encoder"
        )
        sizes = sorted(self.resolutions, reverse=True)
        policy = self.dtype_policy
        # One flat list of blocks (Keras tracks the layers of a list), each
        # with the size it works at.
        self.block_sizes = [size for size in sizes for _ in range(self.blocks)]
        self.stages = [
            BottleneckBlock(
                self.width,
                self.bottleneck,
                last_scale=1.0 / len(self.block_sizes),
                activation=self.activation,
                dtype=policy,
            )
            for _ in self.block_sizes
        ]
        build_by_tracing(self, input_shape)

    def call(self, inputs, condition=None):
        x = self.stem(space_to_depth(inputs, self.patch))
        size = x.shape[1]
        maps = {}
        for index, (block_size, block) in enumerate(
            zip(self.block_sizes, self.stages)
        ):
            if block_size != size:
                factor = size // block_size
                x = keras.ops.average_pool(x, factor, factor)
                size = block_size
            x = conditioned(self.label_stages, block(x), condition, index)
            maps[size] = x
        return [maps[r] for r in self.resolutions]

    def compute_output_shape(self, input_shape):
        height, width = input_shape[1], input_shape[2]
        return [
            (input_shape[0], r, width // (height // r), self.width)
            for r in self.resolutions
        ]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "resolutions": self.resolutions,
                "width": self.width,
                "blocks": self.blocks,
                "bottleneck": self.bottleneck,
                "conditioning": self.conditioning,
                "activation": self.activation,
            }
        )
        return config
