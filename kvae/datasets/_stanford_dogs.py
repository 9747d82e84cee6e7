"""An extracted Stanford Dogs tree: `Images/` and the train/test lists.

No TensorFlow here: this module finds the files, reads the split lists
(the official `lists/*.mat` or plain text) and checks that every listed
image exists; `load` turns the result into a tf.data pipeline.
"""

import os
import re
import warnings

from kvae.datasets import _matlab
from kvae.datasets.errors import DatasetError

IMAGES = "Images"
SPLITS = ("train", "test")
# Where each split's list may be, first found wins: the official lists.tar
# extracts to lists/*.mat; plain text lists hold the same paths.
LIST_CANDIDATES = (
    os.path.join("lists", "{split}_list.mat"),
    "{split}_list.mat",
    os.path.join("lists", "{split}_list.txt"),
    "{split}_list.txt",
)
LAYOUT = (
    "Expected an extracted Stanford Dogs tree:\n"
    "  DIR/Images/<wnid>-<breed>/<file>.jpg   e.g. Images/n02085620-"
    "Chihuahua/n02085620_10074.jpg (from images.tar)\n"
    "  DIR/lists/train_list.mat, DIR/lists/test_list.mat   (from lists.tar), "
    "or\n"
    "  DIR/train_list.txt, DIR/test_list.txt   one <wnid>-<breed>/<file>.jpg "
    "per line\n"
    "or the archives images.tar, annotation.tar and lists.tar in DIR (read "
    "through tensorflow-datasets)."
)
_TEXT_LINE = re.compile(
    r"^(?:Images/)?([^/\s]+)/([^/\s]+\.(?:jpe?g|png))$", re.IGNORECASE
)
_SHOWN = 5


def is_tree(folder):
    """Whether `folder` holds an extracted `Images/` tree."""
    return folder is not None and os.path.isdir(os.path.join(folder, IMAGES))


def breed_name(folder_name):
    """The breed of a class folder, for plots.

    "n02085782-Japanese_spaniel" -> "Japanese spaniel".
    """
    breed = folder_name.split("-", 1)[-1]
    return breed.replace("_", " ")


def no_tree_error(folder, archives_error):
    """`archives_error` (the missing archives), plus the extracted route."""
    return DatasetError(
        f"{archives_error}\nNor is there an extracted tree: {folder} has no "
        f"{IMAGES}/ folder.\n{LAYOUT}"
    )


def list_files(folder):
    """`{split: path}` of the split lists found in `folder`."""
    found = {}
    for split in SPLITS:
        for pattern in LIST_CANDIDATES:
            path = os.path.join(folder, pattern.format(split=split))
            if os.path.isfile(path):
                found[split] = path
                break
    if not found:
        raise DatasetError(
            f"{folder} has {IMAGES}/ but no split lists (looked for "
            f"{', '.join(p.format(split='train') for p in LIST_CANDIDATES)} "
            f"and the same for test).\n{LAYOUT}"
        )
    return found


def read_list(path):
    """The `<wnid>-<breed>/<file>.jpg` entries of one split list."""
    if path.endswith(".mat"):
        entries = _read_mat_list(path)
    else:
        entries = _read_text_list(path)
    if not entries:
        raise DatasetError(f"The split list {path} names no images.\n{LAYOUT}")
    return entries


def _read_text_list(path):
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except UnicodeDecodeError:
        raise DatasetError(
            f"Cannot read the split list {path}: it is not UTF-8 text.\n"
            + LAYOUT
        ) from None
    entries = []
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line:
            continue
        match = _TEXT_LINE.match(line.replace("\\", "/"))
        if match is None:
            raise DatasetError(
                f"Cannot read the split list {path}: line {number} is "
                f"{line[:80]!r}, not a '<wnid>-<breed>/<file>.jpg' path.\n"
                + LAYOUT
            )
        entries.append(f"{match.group(1)}/{match.group(2)}")
    return entries


def _read_mat_list(path):
    with open(path, "rb") as f:
        data = f.read()
    try:
        variables = _matlab.read_mat(data)
    except _matlab.MatFileError as e:
        raise DatasetError(
            f"Cannot read the split list {path}: {e}\n{LAYOUT}"
        ) from None
    if "file_list" not in variables:
        raise DatasetError(
            f"Cannot read the split list {path}: it has no 'file_list' "
            f"variable (found: {', '.join(sorted(variables)) or 'none'}).\n"
            + LAYOUT
        )
    entries = []
    for item in _flatten(variables["file_list"]):
        if not isinstance(item, str):
            raise DatasetError(
                f"Cannot read the split list {path}: 'file_list' holds "
                f"{type(item).__name__} values, not file names.\n{LAYOUT}"
            )
        entries.append(item.replace("\\", "/"))
    return entries


def _flatten(value):
    if isinstance(value, list):
        for item in value:
            yield from _flatten(item)
    else:
        yield value


def read_tree(folder):
    """Classes and split lists of the tree in `folder`.

    Returns:
        `(class_folders, lists)`: the sorted `<wnid>-<breed>` folders of
        `Images/` (labels index them, the order of tfds' labels), and
        `{split: (list_path, entries)}`.
    """
    images = os.path.join(folder, IMAGES)
    class_folders = sorted(
        d
        for d in os.listdir(images)
        if os.path.isdir(os.path.join(images, d)) and not d.startswith(".")
    )
    if not class_folders:
        raise DatasetError(f"{images} has no breed folders.\n{LAYOUT}")
    lists = {
        split: (path, read_list(path))
        for split, path in list_files(folder).items()
    }
    _warn_on_overlap(lists)
    return class_folders, lists


def _warn_on_overlap(lists):
    """Warns when the train and test lists share images: the test split
    is then not held out."""
    if set(lists) != set(SPLITS):
        return
    (train_path, train), (test_path, test) = (lists[s] for s in SPLITS)
    shared = sorted(set(train) & set(test))
    if shared:
        warnings.warn(
            f"{len(shared)} images are in both {train_path} and {test_path} "
            f"(e.g. {', '.join(shared[:_SHOWN])}): test metrics on them "
            "measure memorization, not generalization. Use split lists "
            "that do not overlap (the official lists.tar does not).",
            stacklevel=2,
        )


def labelled_paths(folder, class_folders, list_path, entries):
    """Absolute paths and labels of one list's entries, all checked.

    Raises:
        DatasetError: some listed files are missing (how many, a few names).
    """
    images = os.path.join(folder, IMAGES)
    index = {name: i for i, name in enumerate(class_folders)}
    paths = [os.path.join(images, *entry.split("/")) for entry in entries]
    missing = [
        entry
        for entry, path in zip(entries, paths)
        if entry.split("/")[0] not in index or not os.path.isfile(path)
    ]
    if missing:
        shown = ", ".join(missing[:_SHOWN])
        more = ", ..." if len(missing) > _SHOWN else ""
        raise DatasetError(
            f"{len(missing)} of the {len(entries)} images that {list_path} "
            f"lists are missing from {images}: {shown}{more}. Extract "
            f"images.tar into {folder} (it holds {IMAGES}/), or use the list "
            f"that goes with these images.\n{LAYOUT}"
        )
    damaged = [
        f"{entry} ({problem})"
        for entry, path in zip(entries, paths)
        if (problem := _damage(path))
    ]
    if damaged:
        shown = ", ".join(damaged[:_SHOWN])
        more = ", ..." if len(damaged) > _SHOWN else ""
        raise DatasetError(
            f"{len(damaged)} of the {len(entries)} images that {list_path} "
            f"lists cannot be decoded: {shown}{more} in {images}. Replace "
            "them with intact copies (extract images.tar again), or delete "
            f"their lines from {list_path}."
        )
    labels = [index[entry.split("/")[0]] for entry in entries]
    return paths, labels


# A JPEG starts with SOI (FF D8 FF) and ends with EOI (FF D9), which can
# only be followed by padding; a PNG starts with its signature.
_JPEG_START, _JPEG_END = b"\xff\xd8\xff", b"\xff\xd9"
_PNG_START = b"\x89PNG\r\n\x1a\n"
_TAIL = 1024


def _damage(path):
    """Why the image file at `path` cannot be decoded, or `None`: a cheap
    check of its first and last bytes (decoding 20,580 photos to check
    them would take minutes)."""
    size = os.path.getsize(path)
    if size == 0:
        return "empty, 0 bytes"
    with open(path, "rb") as f:
        head = f.read(len(_PNG_START))
        f.seek(max(0, size - _TAIL))
        tail = f.read()
    if path.lower().endswith(".png"):
        return None if head == _PNG_START else "not a PNG file"
    if not head.startswith(_JPEG_START):
        return f"not a JPEG file, {size} bytes"
    if _JPEG_END not in tail:
        return f"truncated JPEG, {size} bytes, no end marker"
    return None
