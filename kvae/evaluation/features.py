"""The feature spaces of the sample-quality scores.

A score compares two sets of images through a feature network: the
default, `random_features`, needs no download; `feature_extractor` turns a
classifier (for example one trained by `train_feature_classifier`) into
one; any `keras.Model` that maps a batch of images to vectors works.
`extract_features` runs a network over images in batches and returns a
`Features`, which every score also takes, so that one set's features are
computed once for many comparisons.
"""

import dataclasses
import hashlib

import keras
import numpy as np
from keras import ops

from kvae.validation import image_batches
from kvae.validation import is_tf_dataset

# The default network: 3x3 conv + ReLU stages with a 2x2 average pooling
# between them; each stage's feature maps are averaged over space, and the
# four averages are concatenated (32 + 64 + 128 + 256 = 480 features).
RANDOM_FEATURE_CHANNELS = (32, 64, 128, 256)
# Bumped whenever the network or its weights change, so that scores from
# different versions are never compared by mistake.
RANDOM_FEATURES_VERSION = 1


@dataclasses.dataclass(frozen=True)
class Features:
    """Features of a set of images, as the scores take them.

    Attributes:
        values: float64 array `(n, d)`.
        image_shape: tuple. `(height, width, channels)` of the images.
        model_name: str. The feature network's name.
    """

    values: np.ndarray
    image_shape: tuple
    model_name: str

    def __len__(self):
        return len(self.values)


def random_features(image_shape, seed=0):
    """kvae's default feature network: fixed random convolutions.

    Four stages of a 3x3 convolution (32, 64, 128 and 256 filters, stride
    1, "same" padding) and a ReLU, with a 2x2 average pooling between
    stages; the output concatenates every stage's spatial average (480
    features), so it holds local texture statistics from the first stage
    and larger structures from the last (a 64x64 image's last stage sees
    8x8 cells of 40x40 pixels). Images in `[0, 1]` are mapped to `[-1, 1]`
    first. The weights are He-normal draws from
    `numpy.random.default_rng(seed)` and the biases zero: no download and
    no training, and the same images give the same features (to float
    rounding) on TensorFlow, JAX and PyTorch. Randomly initialised networks
    are an accepted feature space for comparisons within one project
    (Naeem et al., 2020); for absolute, published numbers use a trained
    network (`train_feature_classifier`, or Inception if you have it).

    Args:
        image_shape: tuple. `(height, width, channels)`.
        seed: int. Seed of the weights (0 for kvae's published scores).

    Returns:
        `keras.Model` mapping images `(n, *image_shape)` to `(n, 480)`.

    Reference:
    - [Naeem et al., 2020](https://arxiv.org/abs/2002.09797), section 5.
    """
    image_shape = tuple(int(s) for s in image_shape)
    inputs = keras.Input(image_shape)
    x = keras.layers.Rescaling(2.0, offset=-1.0)(inputs)
    pooled = []
    convs = []
    for stage, filters in enumerate(RANDOM_FEATURE_CHANNELS):
        if stage:
            x = keras.layers.AveragePooling2D(2)(x)
        conv = keras.layers.Conv2D(filters, 3, padding="same")
        convs.append(conv)
        x = keras.layers.ReLU()(conv(x))
        pooled.append(keras.layers.GlobalAveragePooling2D()(x))
    outputs = keras.layers.Concatenate()(pooled)
    model = keras.Model(
        inputs,
        outputs,
        name=f"kvae_random_features_v{RANDOM_FEATURES_VERSION}_seed{seed}",
    )
    for conv, (kernel, bias) in zip(
        convs, random_feature_weights(image_shape[-1], seed)
    ):
        conv.set_weights([kernel, bias])
    return model


def random_feature_weights(channels, seed=0):
    """The `(kernel, bias)` of each stage of `random_features`, from
    `numpy.random.default_rng(seed)`: He-normal kernels, zero biases."""
    rng = np.random.default_rng(seed)
    weights = []
    for filters in RANDOM_FEATURE_CHANNELS:
        fan_in = 9 * channels
        kernel = rng.standard_normal((3, 3, channels, filters))
        kernel = (kernel * np.sqrt(2.0 / fan_in)).astype("float32")
        weights.append((kernel, np.zeros(filters, "float32")))
        channels = filters
    return weights


def random_feature_checksum(channels, seed=0):
    """SHA-256 of `random_features`' weights for `channels` input
    channels: pinned in the tests, so the feature space (and every
    published score) does not change between releases unnoticed."""
    digest = hashlib.sha256()
    for kernel, bias in random_feature_weights(channels, seed):
        digest.update(np.ascontiguousarray(kernel).tobytes())
        digest.update(np.ascontiguousarray(bias).tobytes())
    return digest.hexdigest()


def feature_extractor(model, layer_name="features"):
    """The sub-network of `model` up to its layer `layer_name`.

    A classifier trained by `train_feature_classifier` names its
    penultimate layer "features"; that layer's output, not the class
    probabilities, is the feature space (as FID takes Inception's pool
    layer). A model without such a layer is returned unchanged.

    Args:
        model: a functional `keras.Model`.
        layer_name: str. The layer whose output is the feature vector.

    Returns:
        `keras.Model`.
    """
    names = [layer.name for layer in getattr(model, "layers", [])]
    if layer_name not in names:
        return model
    return keras.Model(
        model.input, model.get_layer(layer_name).output, name=model.name
    )


_DEFAULT_NETWORKS = {}


def default_features(image_shape):
    """`random_features(image_shape, seed=0)`, built once per shape."""
    key = tuple(int(s) for s in image_shape)
    if key not in _DEFAULT_NETWORKS:
        _DEFAULT_NETWORKS[key] = random_features(key)
    return _DEFAULT_NETWORKS[key]


def extract_features(
    images, features=None, batch_size=250, verbose="auto", what="images"
):
    """Runs a feature network over images in batches.

    Args:
        images: NumPy array `(n, height, width, channels)` with values in
            `[0, 1]`, a `tf.data.Dataset` of such batches (or of `(images,
            labels)` pairs), or a `Features` (returned as it is).
        features: `keras.Model` or `None`. The feature network; `None` is
            `random_features` for the images' shape.
        batch_size: int. Images per batch, for arrays.
        verbose: `"auto"`, 0 or 1. A progress bar (`"auto"`: for more
            than 20 batches).
        what: str. What the images are, in error messages.

    Returns:
        `Features`.

    Raises:
        ValueError: the images are not a batch of images in `[0, 1]`, or
            the feature network does not take them.
    """
    if isinstance(images, Features):
        return images
    batches, total = _image_batches(images, batch_size, what)
    values = []
    image_shape = None
    progress = None
    for index, batch in enumerate(batches):
        _check_batch(batch, what, image_shape)
        batch = batch.astype("float32")
        if image_shape is None:
            image_shape = tuple(batch.shape[1:])
            network = features or default_features(image_shape)
            _check_network(network, batch, what)
            if verbose == 1 or (
                verbose == "auto" and total is not None and total > 20
            ):
                progress = keras.utils.Progbar(total, unit_name="batch")
        output = ops.convert_to_numpy(network(batch, training=False))
        values.append(output.reshape(len(batch), -1).astype("float64"))
        if progress is not None:
            progress.update(index + 1)
    if image_shape is None:
        raise ValueError(f"The {what} are empty: give at least 2 images.")
    return Features(np.concatenate(values), image_shape, network.name)


def _image_batches(images, batch_size, what):
    """`(iterator of NumPy batches, number of batches or None)`, after
    refusing what is not a batch of images or a dataset of batches."""
    if isinstance(images, (list, tuple)):
        raise ValueError(
            f"The {what} are a Python {type(images).__name__}: give a NumPy "
            "array (n, height, width, channels), e.g. np.stack(images)."
        )
    if not is_tf_dataset(images):
        images = np.asarray(images)
        if images.ndim != 4:
            raise ValueError(
                f"The {what} must be a batch of images (n, height, width, "
                f"channels), got an array of shape {images.shape}"
                + (
                    ": add the batch axis with x[None]."
                    if images.ndim == 3
                    else "."
                )
            )
    return image_batches(images, batch_size)


def _check_batch(batch, what, image_shape):
    if batch.ndim != 4:
        raise ValueError(
            f"The {what} must be batches of images (n, height, width, "
            f"channels), got a batch of shape {batch.shape}."
        )
    if image_shape is not None and tuple(batch.shape[1:]) != image_shape:
        raise ValueError(
            f"The {what} mix image shapes: {image_shape} and "
            f"{tuple(batch.shape[1:])}."
        )
    if not np.issubdtype(batch.dtype, np.number):
        raise ValueError(f"The {what} are not numbers ({batch.dtype}).")
    low, high = float(np.min(batch)), float(np.max(batch))
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ValueError(f"The {what} hold NaN or infinite values.")
    if low < -1e-3 or high > 1 + 1e-3:
        hint = (
            " (divide by 255)"
            if high > 1.5
            else " (clip a decoder's outputs: np.clip(x, 0, 1))"
        )
        raise ValueError(
            f"The {what} have values in [{low:g}, {high:g}]; the scores "
            f"take images in [0, 1], as kvae's models give them{hint}."
        )


def _check_network(network, batch, what):
    if not callable(network):
        raise ValueError(
            f"features must be a keras.Model (or None), got {network!r}."
        )
    try:
        output = network(batch[:1], training=False)
    except Exception as error:  # noqa: BLE001 - re-raised with context
        raise ValueError(
            f"The feature model {getattr(network, 'name', network)!r} does "
            f"not take the {what} (shape {tuple(batch.shape[1:])}): "
            f"{type(error).__name__}: {str(error)[:300]}. Give a model whose "
            "input is "
            "a batch of images of this shape, or resize the images."
        ) from error
    if len(output.shape) < 2 or output.shape[0] != 1:
        raise ValueError(
            f"The feature model {getattr(network, 'name', network)!r} "
            "must map a batch of images to a batch of feature vectors "
            f"(n, d); it returned {tuple(output.shape)} for one image."
        )
