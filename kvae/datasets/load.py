"""`kvae.datasets.load`: training-ready tf.data pipelines."""

from kvae.datasets import _catalog
from kvae.datasets import _files
from kvae.datasets import _options
from kvae.datasets import _pipeline
from kvae.datasets import _sources
from kvae.datasets import _stanford_dogs
from kvae.datasets._splits import resolve_split
from kvae.datasets.errors import DatasetError
from kvae.datasets.images import scan_image_folder

DEFAULT_IMAGE_SIZE = 64
# The routes that read image files put each split's files in a fixed
# pseudo-random order before slicing, so that "train[:90%]" / "train[90%:]"
# mix all classes (the lists and folders are sorted by class). The folder
# route treats the whole folder as one split called "train".
_FILE_ORDER_SEED = 1234


def load(
    name,
    split="train",
    batch_size=128,
    *,
    shuffle=None,
    seed=None,
    with_labels=False,
    binarize=None,
    data_dir=None,
    manual_dir=None,
    max_examples=None,
    image_size=None,
    value_range=(0, 1),
    augment=None,
    bounding_boxes=False,
    directory=None,
):
    """Loads a dataset as a batched, prefetched `tf.data.Dataset`.

    Each element is a float32 NHWC batch of images (or `(images, labels)`
    with `with_labels=True`), ready for `model.fit()` on any Keras backend.
    Under JAX and PyTorch, Keras converts each batch to the backend; for the
    28x28 datasets `kvae.datasets.load_numpy` avoids that (see
    docs/BENCHMARKS.md). The result has a `class_names` attribute.

    Where the data comes from, in this order:
    1. the tfds dataset already prepared in `data_dir`;
    2. `manual_dir` (or `$KVAE_MANUAL_DIR`) holding all the original files:
       tensorflow-datasets prepares the dataset from them into `data_dir`,
       offline, verifying their checksums (about 30 s for MNIST, once);
    3. `manual_dir` holding only some files (a partial download), for MNIST
       and KMNIST: the splits whose two original IDX files are present are
       read directly, after an md5 and sha256 check, with the same split
       syntax. This serves the KMNIST test split when its train images are
       missing; asking for a split whose files are missing raises a
       `DatasetError` naming them and where to put them;
    4. for "stanford_dogs", `manual_dir` holding the extracted archives:
       `Images/<wnid>-<breed>/*.jpg` with the official
       `lists/train_list.mat` and `lists/test_list.mat` (read by kvae's own
       small MAT reader, no SciPy needed) or plain text lists
       `train_list.txt` / `test_list.txt` (one `<wnid>-<breed>/<file>.jpg`
       per line, in DIR or DIR/lists). Every listed file must exist. Each
       split is put in a fixed pseudo-random order, so slices such as
       "train[:90%]" mix all breeds. The archives themselves go through
       tensorflow-datasets (3.);
    5. without `manual_dir`: tensorflow-datasets downloads the dataset.
       When the server cannot be reached, a `DatasetError` lists the files
       to fetch and the `manual_dir` route. With `manual_dir` set, kvae
       never touches the network.

    Stanford Dogs' class names are the breeds ("Chihuahua", "Japanese
    spaniel"), in the order of tfds' labels.

    Preprocessing: pixel values are scaled to `value_range`. Stanford Dogs
    and image folders are resized (shorter side) to `image_size` and
    center-cropped to `image_size` x `image_size` RGB (grayscale repeated),
    then, if `augment`, flipped horizontally (p=0.5) and rotated by up to 10
    degrees (p=0.3), inside tf.data. Decoded, resized uint8 images are
    cached in memory when they fit in 2 GiB.

    Args:
        name: str. "mnist", "kmnist", "stanford_dogs", or "images" (a
            folder of your images, see `directory`).
        split: str. A tfds split string: "train", "test", "test[:8000]",
            "train[:90%]", "train+test"... The "images" folder is one split,
            "train", in a fixed shuffled order (so "train[90%:]" is a
            class-mixed validation set).
        batch_size: int. Examples per batch (the last batch may be smaller).
        shuffle: bool. Shuffle examples, anew each epoch. Defaults to True
            for splits starting with "train", else False.
        seed: int or None. Seeds shuffling, augmentation and dynamic
            binarization (each epoch still differs); None is not repeatable.
        with_labels: bool. Yield `(images, labels)` (int64 class indices)
            instead of images, e.g. to colour a latent-space scatter plot.
        binarize: None, "static" or "dynamic" (MNIST and KMNIST). "static"
            draws one Bernoulli sample per image, once (seeded by `seed`,
            else 0, and by the image itself): the same binary images every
            epoch and run. "dynamic" draws a new sample every epoch, the
            standard for reporting likelihoods.
        data_dir: str. tensorflow-datasets' data folder (default
            `~/tensorflow_datasets` or `$TFDS_DATA_DIR`).
        manual_dir: str. A folder holding the dataset's original files, or
            a subfolder named after the dataset that does. Defaults to
            `$KVAE_MANUAL_DIR`.
        max_examples: int or None. Keep only the first `max_examples`
            examples of the split (before shuffling).
        image_size: int. Output height and width. Defaults to 64 for
            "stanford_dogs" and "images", and to the native 28 for MNIST and
            KMNIST (which are resized only when it is given).
        value_range: `(0, 1)` or `(-1, 1)`.
        augment: bool. Random flip and rotation, as above. Defaults to True
            for "stanford_dogs" and "images" on train splits, else False.
        bounding_boxes: bool. "stanford_dogs" only: crop each image to its
            first annotated box (tfds `objects/bbox`) before resizing.
        directory: str. The image folder for name="images"; see
            `kvae.datasets.scan_image_folder` for how labels are found.

    Returns:
        A `tf.data.Dataset` with a `class_names` attribute (list of str).

    Raises:
        DatasetError: unknown name, bad split string, missing, truncated or
            corrupt original files, no network and no local files, an empty
            or unreadable image folder; for Stanford Dogs, a `manual_dir`
            with neither `Images/` nor the archives, a split list naming
            missing images, or a list that cannot be read.
        ValueError: other invalid arguments.

    Example:

    ```python
    train = kvae.datasets.load("mnist", "train", binarize="dynamic",
                               manual_dir="../shared/data/mnist")
    test = kvae.datasets.load("kmnist", "test[:8000]", with_labels=True,
                              manual_dir="../shared/data/kmnist")
    dogs = kvae.datasets.load("stanford_dogs", "train[:90%]",
                              manual_dir="../shared/data/stanford_dogs",
                              value_range=(-1, 1))
    mine = kvae.datasets.load("images", directory="my_photos/")
    ```
    """
    _options.check_name(name)
    _options.check_positive("batch_size", batch_size, allow_none=False)
    _options.check_positive("max_examples", max_examples)
    _options.check_positive("image_size", image_size)
    value_range = _options.check_value_range(value_range)
    _options.check_binarize(name, binarize)
    if bounding_boxes and name != "stanford_dogs":
        raise ValueError(
            "bounding_boxes=True needs the tfds 'stanford_dogs' dataset, "
            f"which has annotated boxes; {name!r} has none."
        )
    if directory is not None and name != "images":
        raise ValueError(
            f"directory= is for name='images', not {name!r} (use manual_dir= "
            "for a folder of original dataset files)."
        )
    training = isinstance(split, str) and split.strip().startswith("train")
    shuffle = training if shuffle is None else bool(shuffle)
    rgb = name in ("stanford_dogs", "images")
    augment = (rgb and training) if augment is None else bool(augment)

    import tensorflow as tf

    dogs_folder = None
    if name == "stanford_dogs":
        dogs_folder = _dogs_tree(manual_dir, bounding_boxes)
    if name == "images":
        ds, num_examples, class_names = _folder_examples(
            directory, split, image_size or DEFAULT_IMAGE_SIZE, max_examples
        )
    elif dogs_folder is not None:
        ds, num_examples, class_names = _tree_examples(
            dogs_folder, split, image_size or DEFAULT_IMAGE_SIZE, max_examples
        )
    else:
        spec = _catalog.DATASETS[name]
        ranges = resolve_split(name, split, spec.split_sizes)
        num_examples = sum(stop - start for _, start, stop in ranges)
        kind, source = _sources.locate(
            spec, ranges, split, data_dir, manual_dir
        )
        if kind == "idx":
            x, y = _sources.read_idx_ranges(spec, source, ranges)
            ds = tf.data.Dataset.from_tensor_slices((x, y))
            class_names = list(spec.class_names)
        else:
            ds, class_names = _tfds_examples(
                source, split, bounding_boxes, seed
            )
        if max_examples is not None:
            ds = ds.take(max_examples)
            num_examples = min(num_examples, max_examples)
        if rgb:
            size = image_size or DEFAULT_IMAGE_SIZE
            ds = ds.map(
                lambda image, label: (
                    _pipeline.resize_center_crop(image, size),
                    label,
                ),
                num_parallel_calls=tf.data.AUTOTUNE,
            )
        elif image_size is not None and image_size != 28:
            ds = ds.map(
                lambda image, label: (
                    _pipeline.resize_square(image, image_size),
                    label,
                ),
                num_parallel_calls=tf.data.AUTOTUNE,
            )
    ds = _pipeline.finish(
        ds,
        num_examples=num_examples,
        batch_size=batch_size,
        shuffle=shuffle,
        seed=seed,
        with_labels=with_labels,
        binarize=binarize,
        augment_images=augment,
        value_range=value_range,
    )
    ds.class_names = class_names
    return ds


def _tfds_examples(builder, split, bounding_boxes, seed):
    """uint8 `(image, label)` examples from a prepared tfds builder."""
    import tensorflow as tf
    import tensorflow_datasets as tfds

    read_config = tfds.ReadConfig(try_autocache=False, shuffle_seed=seed)
    try:
        ds = builder.as_dataset(
            split=split, shuffle_files=False, read_config=read_config
        )
    except ValueError as e:
        raise DatasetError(
            f"Bad split {split!r} for {builder.name!r}: {e}"
        ) from None

    def example(ex):
        image = ex["image"]
        if bounding_boxes:
            boxes = ex["objects"]["bbox"]
            image = tf.cond(
                tf.shape(boxes)[0] > 0,
                lambda: _pipeline.crop_to_box(image, boxes[0]),
                lambda: image,
            )
        return image, ex["label"]

    # tfds decodes the JPEGs at full size (its test mocks cannot skip
    # decoding for this dataset); the cache after resizing makes that a
    # first-epoch cost only.
    ds = ds.map(example, num_parallel_calls=tf.data.AUTOTUNE)
    names = builder.info.features["label"].names
    if builder.name == "stanford_dogs":
        names = [_stanford_dogs.breed_name(n) for n in names]
    return ds, list(names)


def _dogs_tree(manual_dir, bounding_boxes):
    """The extracted Stanford Dogs folder to read, or None for tfds.

    Raises early for a manual_dir that holds neither the tree nor any of
    the archives.
    """
    folder = _files.manual_folder("stanford_dogs", manual_dir)
    if folder is None:
        return None
    if _stanford_dogs.is_tree(folder):
        if bounding_boxes:
            raise ValueError(
                f"bounding_boxes=True needs the annotations, which the "
                f"extracted tree in {folder} does not hold: put images.tar, "
                "annotation.tar and lists.tar in a folder and pass that as "
                "manual_dir."
            )
        return folder
    archives = [f.filename for f in _catalog.STANFORD_DOGS.files]
    if not _files.existing(folder, archives):
        raise _stanford_dogs.no_tree_error(
            folder,
            _files.missing_files_error(
                _catalog.STANFORD_DOGS, folder, archives
            ),
        )
    return None


def _tree_examples(folder, split, size, max_examples):
    """uint8 examples of an extracted Stanford Dogs tree (see `load`)."""
    class_folders, lists = _stanford_dogs.read_tree(folder)
    sizes = {name: len(entries) for name, (_, entries) in lists.items()}
    try:
        ranges = resolve_split("stanford_dogs", split, sizes)
    except DatasetError as e:
        raise DatasetError(
            f"{e}\nSplit lists found in {folder}: "
            + ", ".join(path for path, _ in lists.values())
            + f".\n{_stanford_dogs.LAYOUT}"
        ) from None
    ordered = {}
    for name, _, _ in ranges:
        if name not in ordered:
            list_path, entries = lists[name]
            ordered[name] = _in_file_order(
                *_stanford_dogs.labelled_paths(
                    folder, class_folders, list_path, entries
                )
            )
    paths = [p for name, a, b in ranges for p in ordered[name][0][a:b]]
    labels = [y for name, a, b in ranges for y in ordered[name][1][a:b]]
    if max_examples is not None:
        paths, labels = paths[:max_examples], labels[:max_examples]
    class_names = [_stanford_dogs.breed_name(c) for c in class_folders]
    return _file_examples(paths, labels, size), len(paths), class_names


def _in_file_order(paths, labels):
    """The fixed pseudo-random order of `_FILE_ORDER_SEED`."""
    import numpy as np

    order = np.random.default_rng(_FILE_ORDER_SEED).permutation(len(paths))
    return [paths[i] for i in order], [labels[i] for i in order]


def _folder_examples(directory, split, size, max_examples):
    paths, labels, class_names = scan_image_folder(directory)
    paths, labels = _in_file_order(paths, labels)
    ranges = resolve_split("images", split, {"train": len(paths)})
    paths = [p for _, a, b in ranges for p in paths[a:b]]
    labels = [y for _, a, b in ranges for y in labels[a:b]]
    if max_examples is not None:
        paths, labels = paths[:max_examples], labels[:max_examples]
    return _file_examples(paths, labels, size), len(paths), class_names


def _file_examples(paths, labels, size):
    """Decoded, resized and center-cropped uint8 `(image, label)` pairs."""
    import numpy as np
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices(
        (paths, np.asarray(labels, np.int64))
    )

    def example(path, label):
        image = _pipeline.decode_image_bytes(
            tf.io.read_file(path), min_side=size
        )
        return _pipeline.resize_center_crop(image, size), label

    return ds.map(example, num_parallel_calls=tf.data.AUTOTUNE)
