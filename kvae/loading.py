"""Loading a saved kvae model, with errors that say what is wrong with the
file before Keras reads it."""

import os
import zipfile
import zlib

import keras

__all__ = ["load_model"]

# The members every `.keras` archive holds (Keras's `saving_lib`).
_MEMBERS = ("config.json", "model.weights.h5")

# The first bytes of every HDF5 file.
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"

_REDO = (
    "Save the model again (model.save(path)), or train it again: a recipe "
    "rerun with --overwrite writes a new model.keras, and a fit with "
    "keras.callbacks.BackupAndRestore resumes from its last backup."
)


def load_model(path, **kwargs):
    """Loads a model saved with `model.save("name.keras")`.

    `keras.saving.load_model` does the loading (kvae's classes are
    registered with Keras when `kvae` is imported), after a check of the
    file: a missing path, a directory, another format, or an archive that
    was cut short (a copy that did not finish) or is not a Keras model,
    gives an error that names the file and says what to do, where Keras
    would fail with a raw zip or HDF5 error, or say "File not found" for a
    file that is there. For a model in another place (a folder, a remote
    path, a file object), call `keras.saving.load_model` after
    `import kvae`.

    Args:
        path: str or path-like. A local `.keras` file.
        **kwargs: passed to `keras.saving.load_model` (`custom_objects`,
            `compile`, `safe_mode`).

    Returns:
        The model, compiled as it was saved.

    Raises:
        FileNotFoundError: nothing is at `path`.
        ValueError: `path` is a directory, does not end in `.keras`, or is
            not a complete `.keras` archive.

    Example:

    ```python
    model.save("vae.keras")
    model = kvae.load_model("vae.keras")
    ```
    """
    path = os.fspath(path)
    _check_keras_file(path)
    try:
        return keras.saving.load_model(path, **kwargs)
    except OSError as error:
        # h5py's errors name neither the archive nor what to do.
        raise ValueError(
            f"The model file {path!r} could not be read: {error}. {_REDO}"
        ) from error


def _check_keras_file(path):
    """Raises `FileNotFoundError` or `ValueError` unless `path` is a
    complete `.keras` archive, with what is wrong and what to do."""
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"There is no model file at {path!r}. Check the path: a "
            "recipe writes <out>/model.keras when training ends."
        )
    if os.path.isdir(path):
        raise ValueError(
            f"{path!r} is a directory, not a .keras model file. Give the "
            "file in it: a recipe's model is <out>/model.keras."
        )
    if not path.endswith(".keras"):
        raise ValueError(
            f"{path!r} is not a .keras file. kvae models are saved with "
            "model.save('name.keras') and loaded from that file; a "
            ".weights.h5 file holds only weights (model.load_weights)."
        )
    size = os.path.getsize(path)
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"The model file {path!r} is truncated or not a .keras "
            f"archive: {size} bytes, the zip's central directory is "
            f"missing. {_REDO}"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
            names = set(archive.namelist())
            heads = {
                name: _head(archive, name) for name in _MEMBERS if name in names
            }
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as error:
        raise ValueError(
            f"The model file {path!r} is corrupt: {size} bytes, its zip "
            f"archive does not read back ({error}). {_REDO}"
        ) from None
    if bad is not None:
        raise ValueError(
            f"The model file {path!r} is corrupt: {size} bytes, its member "
            f"{bad!r} fails its CRC check. {_REDO}"
        )
    missing = [name for name in _MEMBERS if name not in names]
    if missing:
        raise ValueError(
            f"{path!r} is a zip archive but not a Keras model: it lacks "
            f"{' and '.join(missing)}, which every .keras file holds. "
            "Give the model.keras a run wrote, or save the model with "
            "model.save('name.keras')."
        )
    if not heads["model.weights.h5"].startswith(_HDF5_SIGNATURE):
        raise ValueError(
            f"The model file {path!r} is corrupt: its zip archive is intact "
            "but its weights (model.weights.h5) are not an HDF5 file. "
            f"{_REDO}"
        )
    if not heads["config.json"].lstrip().startswith(b"{"):
        raise ValueError(
            f"The model file {path!r} is corrupt: its zip archive is intact "
            f"but its config.json is not a JSON object. {_REDO}"
        )


def _head(archive, name):
    """The first bytes of the archive member `name`."""
    with archive.open(name) as member:
        return member.read(len(_HDF5_SIGNATURE))
