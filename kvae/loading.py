"""Loading a saved kvae model, with errors that say what is wrong with the
file before Keras reads it."""

import os
import zipfile
import zlib

import keras

__all__ = ["load_model"]

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
# The parts of a model saved whole (Keras's `saving_lib`): the members of
# every `.keras` archive, and the files of a preset folder.
MODEL_PARTS = (CONFIG_FILE, WEIGHTS_FILE)

# The first bytes of every HDF5 file.
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
# How much of each part `check_model_parts` reads.
HEAD_BYTES = len(_HDF5_SIGNATURE)

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
                name: _head(archive, name)
                for name in MODEL_PARTS
                if name in names
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
    missing = [name for name in MODEL_PARTS if name not in names]
    if missing:
        raise ValueError(
            f"{path!r} is a zip archive but not a Keras model: it lacks "
            f"{' and '.join(missing)}, which every .keras file holds. "
            "Give the model.keras a run wrote, or save the model with "
            "model.save('name.keras')."
        )
    check_model_parts(
        heads,
        f"The model file {path!r} is corrupt: its zip archive is intact but",
        _REDO,
    )


def check_model_parts(heads, corrupt, redo):
    """Raises `ValueError` unless the parts of a saved model are what Keras
    reads: its weights an HDF5 file and its config a JSON object.

    The one check of a `.keras` archive's members (`load_model`) and of a
    preset folder's files (`kvae.presets`).

    Args:
        heads: dict. The first `HEAD_BYTES` bytes of each of
            `MODEL_PARTS`, by name.
        corrupt: str. The start of the message, naming the file or folder
            ("The model file 'a.keras' is corrupt: ...").
        redo: str. What to do, the end of the message.
    """
    if not heads[WEIGHTS_FILE].startswith(_HDF5_SIGNATURE):
        raise ValueError(
            f"{corrupt} its weights ({WEIGHTS_FILE}) are not an HDF5 file. "
            f"{redo}"
        )
    if not heads[CONFIG_FILE].lstrip().startswith(b"{"):
        raise ValueError(
            f"{corrupt} its {CONFIG_FILE} is not a JSON object. {redo}"
        )


def _head(archive, name):
    """The first bytes of the archive member `name`."""
    with archive.open(name) as member:
        return member.read(HEAD_BYTES)
