"""Finding, checking and loading presets: one place for what a preset
folder must hold and for the errors when it does not."""

import json
import os

import keras

from kvae.loading import load_model
from kvae.presets.errors import PresetError

# The folder of the presets shipped in the package.
SHIPPED_DIR = os.path.dirname(os.path.abspath(__file__))
MODEL_FILE = "model.keras"
METADATA_FILE = "metadata.json"
FILES = (MODEL_FILE, METADATA_FILE)
# What every metadata.json holds (export_preset writes them all).
REQUIRED_KEYS = (
    "description",
    "class_name",
    "registered_name",
    "dataset",
    "command",
    "test_metrics",
    "kvae_version",
    "keras_version",
    "backend",
)
_REEXPORT = (
    "Copy the folder again, or export it again from its run with "
    "kvae.presets.export_preset(run_dir, preset_dir, ...)."
)


def shipped_presets():
    """The presets shipped with kvae: `{name: folder}`, sorted by name.

    Every folder of `kvae/presets/` whose name does not start with `_` or
    `.` is a preset (an incomplete one fails when it is read, with what it
    lacks).
    """
    names = sorted(
        name
        for name in os.listdir(SHIPPED_DIR)
        if not name.startswith(("_", "."))
        and os.path.isdir(os.path.join(SHIPPED_DIR, name))
    )
    return {name: os.path.join(SHIPPED_DIR, name) for name in names}


def preset_folder(preset):
    """The folder of `preset`: a shipped preset's name or a folder path.

    Raises:
        PresetError: an unknown name, or a remote handle.
        FileNotFoundError: a path with nothing there.
    """
    preset = os.fspath(preset)
    if "://" in preset:
        raise PresetError(
            f"{preset!r}: kvae loads presets from a local folder or by the "
            "name of a shipped preset; remote handles (hf://, kaggle://, "
            "gs://) are not supported. Download the preset folder (for "
            "example with huggingface_hub.snapshot_download) and give its "
            "path."
        )
    shipped = shipped_presets()
    if preset in shipped:
        return shipped[preset]
    looks_like_path = os.sep in preset or preset.startswith((".", "~"))
    path = os.path.expanduser(preset)
    if os.path.isdir(path):
        return path
    if looks_like_path or os.path.exists(path):
        if os.path.exists(path):
            raise PresetError(
                f"{preset!r} is a file, not a preset folder: a preset is a "
                f"folder holding {' and '.join(FILES)}. For a single "
                ".keras file, use kvae.load_model."
            )
        raise FileNotFoundError(
            f"There is no preset folder at {preset!r}. Give the folder "
            "export_preset wrote, or the name of a shipped preset "
            f"({_known(shipped)})."
        )
    raise PresetError(
        f"Unknown preset {preset!r}. Known presets: {_known(shipped)} "
        "(kvae.VAE.presets describes them). Or give the path of a preset "
        "folder (kvae.presets.export_preset writes one)."
    )


def _known(shipped):
    return ", ".join(shipped) if shipped else "none is shipped yet"


def read_metadata(preset):
    """The metadata of a preset (a shipped preset's name or a folder),
    after checking that the folder is complete.

    Args:
        preset: str or path-like. A shipped preset's name or a folder.

    Returns:
        dict. The contents of its `metadata.json`, with `"path"` (the
        folder) added.

    Raises:
        PresetError: an unknown name; a folder that lacks `model.keras` or
            `metadata.json`, or whose metadata does not read or lacks a
            field.
        FileNotFoundError: a path with nothing there.

    Example:

    ```python
    metadata = kvae.presets.read_metadata("kmnist_conv_vae")
    print(metadata["command"], metadata["test_metrics"])
    ```
    """
    folder = preset_folder(preset)
    missing = [
        name for name in FILES if not os.path.isfile(os.path.join(folder, name))
    ]
    if missing:
        raise PresetError(
            f"The preset folder {folder!r} is incomplete: it lacks "
            f"{' and '.join(missing)} (a preset holds {' and '.join(FILES)}"
            f"). {_REEXPORT}"
        )
    path = os.path.join(folder, METADATA_FILE)
    try:
        with open(path, encoding="utf-8") as f:
            metadata = json.load(f)
    except (ValueError, UnicodeDecodeError) as error:
        raise PresetError(
            f"The preset's {path!r} is not valid JSON ({error}). {_REEXPORT}"
        ) from None
    if not isinstance(metadata, dict):
        raise PresetError(
            f"The preset's {path!r} holds a {type(metadata).__name__}, not "
            f"a JSON object. {_REEXPORT}"
        )
    lacking = [key for key in REQUIRED_KEYS if key not in metadata]
    if lacking:
        raise PresetError(
            f"The preset's {path!r} lacks {', '.join(lacking)}. {_REEXPORT}"
        )
    return dict(metadata, path=folder)


def saved_class(metadata):
    """The class a preset was saved as (registered with Keras by kvae)."""
    saved = keras.saving.get_registered_object(metadata["registered_name"])
    if saved is None:
        raise PresetError(
            f"The preset at {metadata['path']!r} holds a "
            f"{metadata['registered_name']!r}, a class not registered with "
            "Keras. Import the module that defines it (decorated with "
            "@keras.saving.register_keras_serializable) before loading."
        )
    return saved


def presets_of(cls):
    """`{name: description}` of the shipped presets that load as `cls`."""
    table = {}
    for name in shipped_presets():
        metadata = read_metadata(name)
        if issubclass(saved_class(metadata), cls):
            table[name] = metadata["description"]
    return table


def load_preset(preset, cls, **kwargs):
    """Loads `preset` as an instance of `cls` (or of a subclass: the class
    it was saved as). See `kvae.VAE.from_preset`."""
    metadata = read_metadata(preset)
    saved = saved_class(metadata)
    if not issubclass(saved, cls):
        raise PresetError(
            f"The preset {os.fspath(preset)!r} is a {saved.__name__}, not a "
            f"{cls.__name__}. Load it with kvae.{saved.__name__}.from_preset"
            f"({os.fspath(preset)!r}) (kvae.VAE.from_preset loads any preset "
            "as the class it was saved as)."
        )
    path = os.path.join(metadata["path"], MODEL_FILE)
    try:
        model = load_model(path, **kwargs)
    except ValueError as error:
        raise PresetError(
            f"The model of the preset at {metadata['path']!r} does not "
            f"load: {error}\n{_REEXPORT}"
        ) from error
    if not isinstance(model, cls):
        raise PresetError(
            f"The preset at {metadata['path']!r} says it holds a "
            f"{saved.__name__}, but its {MODEL_FILE} is a "
            f"{type(model).__name__}. {_REEXPORT}"
        )
    return model
