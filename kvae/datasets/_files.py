"""Finding and checking original distribution files (no TensorFlow here)."""

import hashlib
import os

from kvae.datasets import _catalog
from kvae.datasets.errors import DatasetError

MANUAL_DIR_ENV = "KVAE_MANUAL_DIR"
# Files up to this size are hashed by kvae before use (a fraction of a second
# for MNIST/KMNIST). Larger ones (Stanford Dogs' 794 MB images.tar) get a
# size check here and tensorflow-datasets' own sha256 check when it prepares.
HASH_LIMIT_BYTES = 64 * 2**20


def manual_folder(name, manual_dir):
    """Returns the folder to search for `name`'s files, or None.

    `manual_dir` wins over `$KVAE_MANUAL_DIR`. If the folder has a
    subfolder named after the dataset (`<manual_dir>/mnist/`), that subfolder
    is used, so one folder can hold several datasets.
    """
    source = "manual_dir"
    if manual_dir is None:
        manual_dir = os.environ.get(MANUAL_DIR_ENV) or None
        source = f"${MANUAL_DIR_ENV}"
    if manual_dir is None:
        return None
    folder = os.path.abspath(os.path.expanduser(os.fspath(manual_dir)))
    if not os.path.isdir(folder):
        raise DatasetError(
            f"{source} {folder!r} does not exist or is not a folder. It "
            f"should be a folder that holds the original files of "
            f"{name!r} (or a subfolder named {name!r} holding them)."
        )
    sub = os.path.join(folder, name)
    return sub if os.path.isdir(sub) else folder


def file_line(spec, filename):
    f = spec.file(filename)
    checksum = f"md5 {f.md5}" if f.md5 else f"sha256 {f.sha256}"
    return f"  {spec.url}{filename}  ({f.size:,} bytes, {checksum})"


def how_to_fix(spec, folder=None, filenames=None):
    """The part of an error message that says how to provide the files."""
    filenames = filenames or [f.filename for f in spec.files]
    one = len(filenames) == 1
    lines = [
        f"Download the original file{'' if one else 's'} of {spec.name!r}:"
    ]
    lines += [file_line(spec, name) for name in filenames]
    them = "it" if one else "them"
    if folder is None:
        lines.append(
            f"put {them} in one folder and pass manual_dir='/path/to/folder' "
            f"(or set {MANUAL_DIR_ENV}=/path/to/folder); a folder with a "
            f"subfolder {spec.name!r} holding {them} works too."
        )
    else:
        lines.append(
            f"and put {them} in {folder}, the folder given by manual_dir= (or "
            f"${MANUAL_DIR_ENV})."
        )
    lines.append(
        f"kvae then uses {them} without network access, after checking "
        "sizes and checksums."
    )
    return "\n".join(lines)


def missing_files_error(spec, folder, missing, split=None, available=()):
    present = sorted(
        f for f in os.listdir(folder) if os.path.isfile(os.path.join(folder, f))
    )
    one = len(missing) == 1
    for_split = f" split {split!r}" if split else ""
    message = [
        f"Cannot load {spec.name!r}{for_split}: the original "
        f"{'file' if one else 'files'} {', '.join(missing)} "
        f"{'is' if one else 'are'} missing from {folder} (found there: "
        f"{', '.join(present) if present else 'nothing'}).",
        how_to_fix(spec, folder, missing),
    ]
    if available:
        message.append(
            "The files present serve these splits: "
            f"{', '.join(available)} (e.g. split={available[0]!r})."
        )
    return DatasetError("\n".join(message))


def verify_file(spec, folder, filename):
    """Checks size and checksums of one original file; returns its path."""
    expected = spec.file(filename)
    path = os.path.join(folder, filename)
    size = os.path.getsize(path)
    if size != expected.size:
        if size < expected.size:
            kind, why = "truncated", "The download was probably interrupted."
        else:
            kind, why = "too large", "It is not the original file."
        for other in _catalog.DATASETS.values():
            for f in other.files:
                if f.filename == filename and f.size == size:
                    raise DatasetError(
                        f"{path} is a {other.name} file (it has the size "
                        f"of {other.name}'s {filename}, {size:,} bytes), "
                        f"not a {spec.name} one: {folder} looks like the "
                        f"{other.name} folder. Give the folder that holds "
                        f"the {spec.name} files as manual_dir (--manual-dir "
                        f"in the recipes), and leave the {other.name} "
                        "files where they are.\n"
                        + how_to_fix(spec, None, [filename])
                    )
        raise DatasetError(
            f"{path} is {kind}: {size:,} bytes, expected {expected.size:,} "
            f"bytes for {spec.name!r}'s {filename}. {why}\n"
            + how_to_fix(spec, folder, [filename])
        )
    if size > HASH_LIMIT_BYTES:
        return path
    md5, sha256 = hashlib.md5(), hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(2**20), b""):
            md5.update(chunk)
            sha256.update(chunk)
    got = {"md5": md5.hexdigest(), "sha256": sha256.hexdigest()}
    for algorithm in ("md5", "sha256"):
        want = getattr(expected, algorithm)
        if want and got[algorithm] != want:
            raise DatasetError(
                f"{path} has the wrong checksum: {algorithm} "
                f"{got[algorithm]}, expected {want} for {spec.name!r}'s "
                f"{filename}. The file is corrupt or is not the original "
                "(is it another dataset's file of the same name?).\n"
                + how_to_fix(spec, folder, [filename])
            )
    return path


def existing(folder, filenames):
    return [f for f in filenames if os.path.isfile(os.path.join(folder, f))]
