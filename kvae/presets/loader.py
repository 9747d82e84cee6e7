"""Finding, checking and loading presets: one place for what a preset
folder must hold and for the errors when it does not.

A preset folder is keras-hub's layout: `config.json` (the model's
serialized config), `model.weights.h5` (its weights) and `metadata.json`.
"""

import json
import os

import keras

from kvae import loading
from kvae.presets import remote
from kvae.presets.errors import PresetError

# The folder of the presets shipped in the package.
SHIPPED_DIR = os.path.dirname(os.path.abspath(__file__))
# keras-hub's file names (`keras_hub/src/utils/preset_utils.py`).
CONFIG_FILE = loading.CONFIG_FILE
WEIGHTS_FILE = loading.WEIGHTS_FILE
METADATA_FILE = "metadata.json"
FILES = (CONFIG_FILE, WEIGHTS_FILE, METADATA_FILE)
# What every metadata.json holds: Keras, keras-hub and kvae all write it.
REQUIRED_KEYS = ("keras_version",)
# The file of a folder in kvae's first preset layout (model.keras and
# metadata.json), which no release shipped.
_OLD_MODEL_FILE = "model.keras"
_RESAVE = (
    "Copy the folder again, or save it again: model.save_to_preset(folder),"
    " or kvae.presets.export_preset(run_dir, folder, ...) from its run."
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
    """The local folder of `preset`: a shipped preset's name, a folder
    path, or an `hf://` or `kaggle://` handle (downloaded first, see
    `kvae.presets.remote`).

    Raises:
        PresetError: an unknown name, a file, or a handle that cannot be
            downloaded here.
        FileNotFoundError: a path with nothing there.
    """
    preset = os.fspath(preset)
    if remote.is_remote(preset):
        return remote.download(preset, FILES)
    shipped = shipped_presets()
    if preset in shipped:
        return shipped[preset]
    looks_like_path = os.sep in preset or preset.startswith((".", "~"))
    path = os.path.expanduser(preset)
    if os.path.isdir(path):
        return path
    if os.path.exists(path):
        raise PresetError(
            f"{preset!r} is a file, not a preset folder: a preset is a "
            f"folder holding {', '.join(FILES)}. For a single .keras file, "
            "use kvae.load_model."
        )
    if looks_like_path:
        raise FileNotFoundError(
            f"There is no preset folder at {preset!r}. Give the folder "
            "save_to_preset or export_preset wrote, or the name of a "
            f"shipped preset ({_known(shipped)})."
        )
    raise PresetError(
        f"Unknown preset {preset!r}. Known presets: {_known(shipped)} "
        "(kvae.VAE.presets describes them). Or give the path of a preset "
        "folder (model.save_to_preset(folder) writes one), or an hf:// or "
        "kaggle:// handle."
    )


def _known(shipped):
    return ", ".join(shipped) if shipped else "none is shipped yet"


def check_folder(folder):
    """Raises `PresetError` unless `folder` holds every file of a preset,
    its config and weights as Keras reads them (`kvae.loading`'s check)."""
    missing = [
        name for name in FILES if not os.path.isfile(os.path.join(folder, name))
    ]
    if missing:
        old = os.path.isfile(os.path.join(folder, _OLD_MODEL_FILE))
        raise PresetError(
            f"The preset folder {folder!r} is incomplete: it lacks "
            f"{', '.join(missing)} (a preset holds {', '.join(FILES)}). "
            + (
                f"It holds {_OLD_MODEL_FILE}, kvae's first preset layout: "
                f"load it with kvae.load_model, then save it with "
                "model.save_to_preset(folder)."
                if old
                else _RESAVE
            )
        )
    heads = {}
    for name in loading.MODEL_PARTS:
        with open(os.path.join(folder, name), "rb") as f:
            heads[name] = f.read(loading.HEAD_BYTES)
    try:
        loading.check_model_parts(
            heads, f"The preset folder {folder!r} is corrupt:", _RESAVE
        )
    except ValueError as error:
        raise PresetError(str(error)) from None


def read_json(folder, name):
    """The JSON object in the file `name` of a preset folder."""
    path = os.path.join(folder, name)
    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f)
    except (ValueError, UnicodeDecodeError) as error:
        raise PresetError(
            f"The preset's {path!r} is not valid JSON ({error}). {_RESAVE}"
        ) from None
    if not isinstance(value, dict):
        raise PresetError(
            f"The preset's {path!r} holds a {type(value).__name__}, not "
            f"a JSON object. {_RESAVE}"
        )
    return value


def read_metadata(preset):
    """The metadata of a preset, after checking that its folder is
    complete.

    Args:
        preset: str or path-like. A shipped preset's name, a folder, or an
            `hf://` or `kaggle://` handle.

    Returns:
        dict. The contents of its `metadata.json`, with `"path"` (the
        local folder) added.

    Raises:
        PresetError: an unknown name; a folder that lacks a file, whose
            weights are not HDF5, or whose config or metadata does not
            read or lacks a field.
        FileNotFoundError: a path with nothing there.

    Example:

    ```python
    metadata = kvae.presets.read_metadata("kmnist_conv_vae")
    print(metadata["command"], metadata["test_metrics"])
    ```
    """
    folder = preset_folder(preset)
    check_folder(folder)
    metadata = read_json(folder, METADATA_FILE)
    lacking = [key for key in REQUIRED_KEYS if key not in metadata]
    if lacking:
        raise PresetError(
            f"The preset's {os.path.join(folder, METADATA_FILE)!r} lacks "
            f"{', '.join(lacking)}. {_RESAVE}"
        )
    return dict(metadata, path=folder)


def saved_class(config, folder):
    """The class a preset's `config.json` holds (registered with Keras),
    found as keras-hub's `check_config_class` finds it."""
    name = config.get("registered_name")
    saved = keras.saving.get_registered_object(name) if name else None
    if not isinstance(saved, type):
        raise PresetError(
            f"The preset at {folder!r} holds {name!r}, not a class "
            "registered with Keras. Import the module that defines it "
            "(decorated with @keras.saving.register_keras_serializable) "
            "before loading."
        )
    return saved


def presets_of(cls):
    """`{name: description}` of the shipped presets that load as `cls`."""
    table = {}
    for name, folder in shipped_presets().items():
        metadata = read_metadata(folder)
        if issubclass(saved_class(read_json(folder, CONFIG_FILE), folder), cls):
            table[name] = metadata.get("description", "")
    return table


def load_preset(preset, cls, load_weights=True, **kwargs):
    """Loads `preset` as an instance of `cls` (or of a subclass: the class
    it was saved as). See `kvae.VAE.from_preset`."""
    folder = read_metadata(preset)["path"]
    config = read_json(folder, CONFIG_FILE)
    saved = saved_class(config, folder)
    if not issubclass(saved, cls):
        name = os.fspath(preset)
        raise PresetError(
            f"The preset {name!r} is a {saved.__name__}, not a "
            f"{cls.__name__}. Load it with kvae.{saved.__name__}.from_preset"
            f"({name!r}) (kvae.VAE.from_preset loads any preset as the class "
            "it was saved as)."
        )
    try:
        model = keras.saving.deserialize_keras_object(config, **kwargs)
        if load_weights:
            model.load_weights(os.path.join(folder, WEIGHTS_FILE))
    except (ValueError, TypeError, KeyError, OSError) as error:
        raise PresetError(
            f"The model of the preset at {folder!r} does not load: "
            f"{error}\n{_RESAVE}"
        ) from error
    return model
