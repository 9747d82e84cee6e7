"""Small helpers shared by the kvae layers."""

import numbers

import keras


def check_latent_dim(latent_dim):
    if not isinstance(latent_dim, numbers.Integral) or isinstance(
        latent_dim, bool
    ):
        raise TypeError(
            f"latent_dim must be an int, got {type(latent_dim).__name__}."
        )
    if latent_dim < 1:
        raise ValueError(
            f"latent_dim must be at least 1, got {latent_dim}. Typical "
            "values: 2 (to plot the latent space), 16-64 (MNIST-like), "
            "128-256 (64x64 RGB)."
        )


def check_image_shape(output_shape, downsampling_steps, role="decoder"):
    """Checks `(height, width, channels)` against the number of 2x steps."""
    output_shape = positive_ints(
        "output_shape" if role == "decoder" else "the image shape",
        output_shape,
        "(height, width, channels) such as (28, 28, 1)",
    )
    if len(output_shape) != 3:
        raise ValueError(
            f"The {role} needs an image shape (height, width, channels), got "
            f"{output_shape}."
        )
    factor = 2**downsampling_steps
    if output_shape[0] % factor or output_shape[1] % factor:
        raise ValueError(
            f"Height and width must be divisible by {factor} (the {role} "
            f"halves/doubles them {downsampling_steps} times), got "
            f"{output_shape[:2]}. Pad or resize the images, or change the "
            "number of stages (filters)."
        )
    return output_shape


def build_by_tracing(layer, input_shape):
    """Builds `layer`'s sublayers by running `call` on a symbolic input."""
    layer.call(keras.KerasTensor(tuple(input_shape), dtype=layer.compute_dtype))


def check_filters(filters):
    """A tuple of positive channel counts, one per stage."""
    return positive_ints(
        "filters", filters, "one channel count per stage such as (32, 64)"
    )


def check_hidden_units(hidden_units):
    """A tuple of positive layer widths."""
    return positive_ints(
        "hidden_units",
        hidden_units,
        "one width per layer such as (512, 256)",
        allow_empty=True,
    )


def positive_ints(name, value, what, allow_empty=False):
    """`value` as a tuple of ints >= 1 (non-empty unless `allow_empty`),
    or an error saying what it should be."""
    value = _int_tuple(name, value, what)
    if (not value and not allow_empty) or any(v < 1 for v in value):
        raise ValueError(
            f"{name} must be a tuple of positive ints, {what}; got {value}."
        )
    return tuple(int(v) for v in value)


def _int_tuple(name, value, what):
    """`value` as a tuple of ints, or a `TypeError` saying what it should
    be (an int where a tuple belongs, a string, floats)."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError(
            f"{name} must be a tuple of ints, {what}; got {value!r} "
            f"({type(value).__name__})."
        )
    value = tuple(value)
    for item in value:
        if not isinstance(item, numbers.Integral) or isinstance(item, bool):
            raise TypeError(
                f"{name} must be a tuple of ints, {what}; got {value!r}, "
                f"which holds {item!r} ({type(item).__name__})."
            )
    return value


def check_resolutions(resolutions):
    """The latent resolutions of a hierarchical layer: distinct positive
    ints, each a multiple of the one before (the path moves between them
    by whole factors), returned smallest first."""
    resolutions = positive_ints(
        "resolutions",
        resolutions,
        "the heights of the latent maps, such as (7, 14)",
    )
    ordered = tuple(sorted(resolutions))
    if len(set(ordered)) != len(ordered):
        raise ValueError(f"resolutions must be distinct, got {resolutions}.")
    for small, large in zip(ordered, ordered[1:]):
        if large % small:
            raise ValueError(
                f"Each resolution must be a multiple of the next smaller one "
                f"(the path pools and upsamples by whole factors), but "
                f"{large} is not a multiple of {small} in resolutions="
                f"{resolutions}."
            )
    return ordered


def check_resolutions_fit(resolutions, image_shape, role):
    """Every latent resolution divides the image's height and width."""
    height, width = image_shape[0], image_shape[1]
    largest = resolutions[-1]
    if height % largest or width % largest or height % width and width % height:
        raise ValueError(
            f"The {role}'s resolutions {resolutions} do not divide the image "
            f"size {height}x{width}: the largest latent map ({largest}) must "
            "divide the height and the width. Choose resolutions that divide "
            "the image size (for 28x28: (7, 14); for 64x64: (4, 8, 16)), or "
            "resize the images."
        )
    return height // largest


def space_to_depth(x, factor):
    """`(b, h, w, c)` to `(b, h / f, w / f, c * f * f)`: each `f x f`
    patch of pixels becomes one position's channels."""
    if factor == 1:
        return x
    _, height, width, channels = x.shape
    x = keras.ops.reshape(
        x, (-1, height // factor, factor, width // factor, factor, channels)
    )
    x = keras.ops.transpose(x, (0, 1, 3, 2, 4, 5))
    return keras.ops.reshape(
        x, (-1, height // factor, width // factor, factor * factor * channels)
    )


def depth_to_space(x, factor):
    """The inverse of `space_to_depth`."""
    if factor == 1:
        return x
    _, height, width, channels = x.shape
    channels //= factor * factor
    x = keras.ops.reshape(x, (-1, height, width, factor, factor, channels))
    x = keras.ops.transpose(x, (0, 1, 3, 2, 4, 5))
    return keras.ops.reshape(x, (-1, height * factor, width * factor, channels))
