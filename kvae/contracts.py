"""Checks, made once when a model is built, that its layers fit together:
each error names the layer and what it should return."""

import keras


def declared_input_shape(layer):
    """The image shape a functional encoder was built for, if it says."""
    inputs = getattr(layer, "inputs", None)
    if isinstance(layer, keras.Model) and inputs and len(inputs) == 1:
        return tuple(inputs[0].shape[1:])
    return None


def check_encoder_input(encoder, image_shape):
    """Images must have the shape a functional encoder declares."""
    expected = declared_input_shape(encoder)
    if expected is not None and not shapes_match(expected, image_shape):
        raise ValueError(
            f"The data has images of shape {image_shape}, but the "
            f"encoder expects {expected}. Resize the data, or build the "
            "encoder for this image shape."
        )


def trace_layer(layer, inputs, what):
    """Calls `layer` on symbolic `inputs`, naming the layer on failure."""
    try:
        return layer(inputs)
    except Exception as error:
        raise ValueError(f"{what}: {error}") from error


def check_gaussian(encoded, who):
    """Checks that `encoded` is a pair (z_mean, z_log_var), both `(batch,
    latent_dim)`; returns it."""
    if not (isinstance(encoded, (tuple, list)) and len(encoded) == 2):
        raise ValueError(
            f"{who} must return a pair (z_mean, z_log_var), each of "
            f"shape (batch, latent_dim); it returned {encoded}."
        )
    z_mean, z_log_var = encoded
    if not hasattr(z_mean, "shape") or not hasattr(z_log_var, "shape"):
        raise ValueError(
            f"{who} must return a pair of tensors (z_mean, z_log_var); it "
            f"returned {encoded}."
        )
    if len(z_mean.shape) != 2 or tuple(z_mean.shape) != tuple(z_log_var.shape):
        raise ValueError(
            f"{who} must return z_mean and z_log_var of the same "
            f"shape (batch, latent_dim); got {z_mean.shape} and "
            f"{z_log_var.shape}."
        )
    check_latent_dim(z_mean.shape[-1])
    return z_mean, z_log_var


def check_latent_dim(latent_dim):
    """A latent code needs at least one dimension."""
    if latent_dim is None or latent_dim < 1:
        raise ValueError(f"latent_dim must be at least 1, got {latent_dim}.")


def check_decoder_output(decoded, image_shape):
    """The decoder must give logits or means of the images' shape: the
    likelihood, and so every bound, is computed pixel by pixel."""
    if not hasattr(decoded, "shape") or not shapes_match(
        tuple(decoded.shape[1:]), image_shape
    ):
        got = (
            tuple(decoded.shape[1:]) if hasattr(decoded, "shape") else (decoded)
        )
        raise ValueError(
            f"The decoder produces images of shape {got}, but the input "
            f"images have shape {image_shape}. They must be equal: give the "
            f"decoder output_shape={image_shape}."
        )


def shapes_match(a, b):
    """Equal shapes, where `None` matches any size."""
    return len(a) == len(b) and all(
        i is None or j is None or i == j for i, j in zip(a, b)
    )
