"""tf.data stages shared by every route. TensorFlow is imported inside the
functions, so importing this module does not import it."""

import math

# Decoded, resized uint8 examples are cached in memory below this size
# (MNIST: 47 MB; Stanford Dogs train at 64x64: 147 MB).
CACHE_LIMIT_BYTES = 2 * 2**30
SHUFFLE_BUFFER_UNCACHED = 4096
FLIP_PROBABILITY = 0.5
ROTATION_PROBABILITY = 0.3
MAX_ROTATION_DEGREES = 10.0
# Seed of static binarization when `seed` is None: static means the same
# binary images in every run.
STATIC_BINARIZATION_SEED = 0
JPEG_MAGIC = b"\xff\xd8\xff"


def decode_image_bytes(data, min_side=None):
    """Decodes JPEG/PNG/GIF/BMP/WebP bytes to uint8 `(h, w, 3)`.

    For a JPEG whose shorter side is at least `min_side` times 2, 4 or 8,
    libjpeg's DCT scaling decodes it directly at 1/2, 1/4 or 1/8 size (the
    largest that keeps the shorter side >= `min_side`): a large speed-up for
    big photos that are about to be resized to 64 px anyway.
    """
    import tensorflow as tf

    def generic():
        return tf.io.decode_image(data, channels=3, expand_animations=False)

    if min_side is None:
        image = generic()
    else:

        def jpeg():
            shape = tf.image.extract_jpeg_shape(data)
            short = tf.minimum(shape[0], shape[1])
            index = tf.constant(0)
            for i, ratio in enumerate((2, 4, 8), start=1):
                fits = (short + ratio - 1) // ratio >= min_side
                index = tf.where(fits, i, index)
            branches = [
                lambda r=r: tf.io.decode_jpeg(data, channels=3, ratio=r)
                for r in (1, 2, 4, 8)
            ]
            return tf.switch_case(index, branches)

        is_jpeg = tf.equal(tf.strings.substr(data, 0, 3), JPEG_MAGIC)
        image = tf.cond(is_jpeg, jpeg, generic)
    image.set_shape([None, None, 3])
    return image


def crop_to_box(image, box):
    """Crops to a normalized `[ymin, xmin, ymax, xmax]` box (>= 1 px)."""
    import tensorflow as tf

    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    box = tf.clip_by_value(tf.cast(box, tf.float32), 0.0, 1.0)
    lo = tf.minimum(box[:2], box[2:])
    hi = tf.maximum(box[:2], box[2:])
    top_left = tf.cast(tf.floor(lo * shape), tf.int32)
    bottom_right = tf.cast(tf.math.ceil(hi * shape), tf.int32)
    size = tf.cast(shape, tf.int32)
    top_left = tf.minimum(top_left, size - 1)
    extent = tf.maximum(bottom_right - top_left, 1)
    return tf.image.crop_to_bounding_box(
        image, top_left[0], top_left[1], extent[0], extent[1]
    )


def resize_center_crop(image, size):
    """Resizes the shorter side to `size`, then center-crops `size` x `size`.

    Antialiased bilinear resizing; returns uint8 with 3 channels (grayscale
    is repeated into RGB).
    """
    import tensorflow as tf

    if image.shape[-1] == 1:
        image = tf.image.grayscale_to_rgb(image)
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    scale = size / tf.reduce_min(shape)
    new = tf.maximum(tf.cast(tf.round(shape * scale), tf.int32), size)
    image = tf.image.resize(image, new, method="bilinear", antialias=True)
    image = tf.image.resize_with_crop_or_pad(image, size, size)
    image = tf.cast(tf.clip_by_value(tf.round(image), 0.0, 255.0), tf.uint8)
    image.set_shape([size, size, 3])
    return image


def resize_square(image, size):
    """Resizes a square uint8 image (the 28x28 datasets) to `size`."""
    import tensorflow as tf

    channels = image.shape[-1]
    image = tf.image.resize(image, [size, size], antialias=True)
    image = tf.cast(tf.clip_by_value(tf.round(image), 0.0, 255.0), tf.uint8)
    image.set_shape([size, size, channels])
    return image


def rotate(images, angles):
    """Rotates float `(n, h, w, c)` images by `angles` radians `(n,)`.

    About each image's center; bilinear interpolation, reflected borders
    (Keras' RandomRotation default). An angle of 0 returns the image
    exactly.
    """
    import tensorflow as tf

    shape = tf.cast(tf.shape(images)[1:3], tf.float32)
    cy, cx = (shape[0] - 1.0) / 2.0, (shape[1] - 1.0) / 2.0
    cos, sin = tf.cos(angles), tf.sin(angles)
    zeros = tf.zeros_like(angles)
    # Maps each output pixel (x, y) to the input pixel it samples.
    transforms = tf.stack(
        [
            cos,
            -sin,
            cx - cos * cx + sin * cy,
            sin,
            cos,
            cy - sin * cx - cos * cy,
            zeros,
            zeros,
        ],
        axis=1,
    )
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=transforms,
        output_shape=tf.shape(images)[1:3],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="REFLECT",
    )


def augment(images, seed):
    """Per image of a float `(n, h, w, c)` batch: a horizontal flip with
    p=0.5 and a rotation by up to 10 degrees with p=0.3."""
    import tensorflow as tf

    n = tf.shape(images)[0]
    seeds = tf.random.experimental.stateless_split(seed, 3)
    flip = tf.random.stateless_uniform([n], seeds[0]) < FLIP_PROBABILITY
    images = tf.where(
        flip[:, None, None, None], tf.reverse(images, axis=[2]), images
    )
    spin = tf.random.stateless_uniform([n], seeds[1]) < ROTATION_PROBABILITY
    max_angle = MAX_ROTATION_DEGREES * math.pi / 180.0
    angles = tf.random.stateless_uniform([n], seeds[2], -max_angle, max_angle)
    # Only the chosen images are rotated: the projective transform is the
    # costly step of the pipeline.
    chosen = tf.where(spin)
    rotated = rotate(tf.gather_nd(images, chosen), tf.gather_nd(angles, chosen))
    return tf.tensor_scatter_nd_update(images, chosen, rotated)


def static_binarize(image, seed):
    """One fixed Bernoulli sample of a uint8 image, as uint8 0 or 255.

    The sample's seed is `seed` and a hash of the image itself, so each image
    gets the same binary version whatever the order, shuffling or split
    slicing.
    """
    import tensorflow as tf

    digest = tf.strings.to_hash_bucket_fast(
        tf.io.serialize_tensor(image), 2**62
    )
    noise = tf.random.stateless_uniform(
        tf.shape(image), tf.stack([tf.constant(seed, tf.int64), digest])
    )
    on = noise < tf.cast(image, tf.float32) / 255.0
    return tf.cast(on, tf.uint8) * 255


def finish(
    ds,
    *,
    num_examples,
    batch_size,
    shuffle,
    seed,
    with_labels,
    binarize,
    augment_images,
    value_range,
):
    """uint8 `(image, label)` examples -> batched float32 training data.

    Per-epoch work (scaling, augmentation, dynamic binarization) runs on
    whole batches: a per-example `map` caps MNIST at a few thousand
    images/s on 2 cores, a per-batch one does ten times that.
    """
    import tensorflow as tf

    if binarize == "static":
        static_seed = STATIC_BINARIZATION_SEED if seed is None else seed
        ds = ds.map(
            lambda image, label: (static_binarize(image, static_seed), label),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    element = ds.element_spec[0]
    example_bytes = math.prod(element.shape)
    if num_examples * example_bytes <= CACHE_LIMIT_BYTES:
        ds = ds.cache()
        buffer = num_examples
    else:
        buffer = SHUFFLE_BUFFER_UNCACHED
    if shuffle:
        ds = ds.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    random = binarize == "dynamic" or augment_images
    if random:
        # One stateless seed pair per batch, new ones every epoch (each
        # iteration over the dataset re-randomizes), fixed by `seed`.
        seeds = tf.data.Dataset.random(
            seed=seed, rerandomize_each_iteration=True
        ).batch(2)
        ds = tf.data.Dataset.zip(ds, seeds)
    low, high = value_range

    def to_float(images, labels, rng=None):
        x = tf.cast(images, tf.float32) / 255.0
        if augment_images:
            x = augment(x, tf.random.experimental.stateless_split(rng, 2)[0])
            if binarize == "static":
                x = tf.cast(x >= 0.5, tf.float32)  # rotation interpolates
        if binarize == "dynamic":
            noise = tf.random.stateless_uniform(
                tf.shape(x), tf.random.experimental.stateless_split(rng, 2)[1]
            )
            x = tf.cast(noise < x, tf.float32)
        if (low, high) != (0, 1):
            x = x * (high - low) + low
        return (x, labels) if with_labels else x

    if random:
        ds = ds.map(
            lambda batch, rng: to_float(*batch, rng),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    else:
        ds = ds.map(to_float, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)
