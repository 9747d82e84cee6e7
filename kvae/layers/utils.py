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
    output_shape = tuple(int(s) for s in output_shape)
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


def check_latent_dims(latent_dims):
    """A tuple of latent sizes, one per level (bottom first), each >= 1."""
    latent_dims = _int_tuple(
        "latent_dims",
        latent_dims,
        "one latent size per level (bottom first) such as (32, 16)",
    )
    if not latent_dims:
        raise ValueError("latent_dims needs at least one level, got ().")
    for latent_dim in latent_dims:
        check_latent_dim(latent_dim)
    return tuple(int(d) for d in latent_dims)


def check_filters(filters):
    """A tuple of positive channel counts, one per stage."""
    filters = _int_tuple(
        "filters", filters, "one channel count per stage such as (32, 64)"
    )
    if not filters or any(f < 1 for f in filters):
        raise ValueError(
            f"filters must be one positive int per stage, e.g. (32, 64); "
            f"got {filters}."
        )
    return tuple(int(f) for f in filters)


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
