"""Listing, labelling and checking a folder of the user's own images."""

import os
import re
import warnings

from kvae.datasets.errors import DatasetError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp")
# ImageNet / Stanford Dogs file names start with the class's WordNet id:
# "n02085620_Chihuahua.JPEG", "n02085620_10074.jpg".
_WNID = re.compile(r"^(n\d{8})[_\-.]")
_VALIDATION_DECODE_SIDE = 8


def scan_image_folder(directory):
    """Lists the decodable images under `directory`, with labels.

    The folder is searched recursively for files ending in .jpg, .jpeg,
    .png, .gif, .bmp or .webp (any case); other files are not images and are
    left out. Every image is decoded once (JPEGs at 1/8 scale, which is
    fast); files that fail are skipped with a `UserWarning` that counts them
    and names a few.

    Labels: if the images lie in two or more top-level subfolders, each
    subfolder is a class (`directory/<class>/.../*.jpg`, like
    `keras.utils.image_dataset_from_directory`). Otherwise, if every file
    name starts with an ImageNet WordNet id (`n02085620_...`), the id is the
    class, so `stanford_dogs_subset` gets its 120 breeds, numbered in the
    order of tfds' `stanford_dogs` labels. Otherwise every image has label
    0. Labels are indices into the sorted class names; an image directly in
    `directory` next to class subfolders gets class `""` (label 0).

    Args:
        directory: str or path-like. The folder of images.

    Returns:
        `(paths, labels, class_names)`: sorted list of str, list of int, list
        of str.

    Raises:
        DatasetError: if the folder does not exist, holds no image files, or
            none of them can be decoded.

    Example:

    ```python
    paths, labels, names = kvae.datasets.scan_image_folder("my_dogs/")
    ```
    """
    if directory is None:
        raise DatasetError(
            "kvae.datasets.load('images', ...) needs directory=: the folder "
            "holding your images."
        )
    directory = os.path.abspath(os.path.expanduser(os.fspath(directory)))
    if os.path.isfile(directory):
        raise DatasetError(
            f"Image folder {directory!r} is a file, not a folder. Give the "
            f"folder that holds the images ({os.path.dirname(directory)!r} "
            "if this is one of them)."
        )
    if not os.path.isdir(directory):
        raise DatasetError(f"Image folder {directory!r} does not exist.")
    paths = []
    for root, dirs, files in os.walk(directory, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for f in sorted(files):
            if not f.startswith(".") and f.lower().endswith(IMAGE_EXTENSIONS):
                paths.append(os.path.join(root, f))
    if not paths:
        raise DatasetError(
            f"Image folder {directory!r} holds no image files (searched "
            f"recursively for {', '.join(IMAGE_EXTENSIONS)}). Put your "
            "images there, in one subfolder per class if you want labels."
        )
    paths = _decodable(paths, directory)
    return (paths, *_labels(paths, directory))


def _labels(paths, directory):
    relative = [os.path.relpath(p, directory).split(os.sep) for p in paths]
    groups = {parts[0] for parts in relative if len(parts) > 1}
    if len(groups) >= 2:
        classes = [parts[0] if len(parts) > 1 else "" for parts in relative]
    else:
        wnids = [_WNID.match(parts[-1]) for parts in relative]
        if all(wnids):
            classes = [m.group(1) for m in wnids]
        else:
            classes = [""] * len(paths)
    class_names = sorted(set(classes))
    index = {name: i for i, name in enumerate(class_names)}
    return [index[c] for c in classes], class_names


def _decodable(paths, directory):
    import tensorflow as tf

    from kvae.datasets._pipeline import decode_image_bytes

    def check(i, path):
        image = decode_image_bytes(
            tf.io.read_file(path), min_side=_VALIDATION_DECODE_SIDE
        )
        # Depending on the decoded shape keeps the decode from being pruned.
        return i + 0 * tf.reduce_min(tf.shape(image))

    ds = tf.data.Dataset.from_tensor_slices((list(range(len(paths))), paths))
    ds = ds.map(check, num_parallel_calls=tf.data.AUTOTUNE, deterministic=False)
    ds = ds.ignore_errors()
    good = sorted(int(i) for i in ds.as_numpy_iterator())
    bad = sorted(set(range(len(paths))) - set(good))
    if bad:
        names = [os.path.relpath(paths[i], directory) for i in bad]
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        warnings.warn(
            f"Skipped {len(bad)} of {len(paths)} image files in {directory} "
            f"that could not be decoded: {shown}",
            stacklevel=3,
        )
    if not good:
        raise DatasetError(
            f"None of the {len(paths)} image files in {directory!r} could be "
            "decoded as JPEG, PNG, GIF, BMP or WebP."
        )
    return [paths[i] for i in good]
