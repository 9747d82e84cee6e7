"""Remote preset handles (`hf://`, `kaggle://`): downloaded by keras-hub's
or the hubs' own helpers, when one is installed, into a local folder.

kvae downloads nothing itself and depends on none of these packages: with
`keras_hub` installed, its `get_file` fetches each file of the preset, as
`keras_hub.models.Backbone.from_preset` does; without it,
`huggingface_hub.snapshot_download` (what `keras.saving.load_model("hf://
...")` uses) or `kagglehub.model_download` (what keras-hub uses for
Kaggle) fetches the whole folder.
"""

import importlib
import os

from kvae.presets.errors import PresetError

SCHEMES = {
    "hf": "huggingface_hub",
    "kaggle": "kagglehub",
}


def is_remote(preset):
    """Whether `preset` is a handle with a scheme (`"hf://org/name"`)."""
    return "://" in os.fspath(preset)


def download(handle, files):
    """The local folder holding `files` of the preset at `handle`.

    Args:
        handle: str. `"hf://<org>/<name>"` or
            `"kaggle://<org>/<model>/keras/<variation>[/<version>]"`.
        files: tuple of str. The names a preset folder holds.

    Returns:
        str. The folder (the downloader's cache).

    Raises:
        PresetError: another scheme, or no downloader installed (the
            message says which package to install), or files that the
            downloader put in different folders.
    """
    scheme = handle.split("://", 1)[0].lower()
    if scheme not in SCHEMES:
        raise PresetError(
            f"{handle!r}: kvae loads presets from a local folder, a shipped "
            f"preset's name or an {' or a '.join(s + '://' for s in SCHEMES)}"
            f" handle, not {scheme}://. Download the folder and give its "
            "path."
        )
    keras_hub_files = optional_module("keras_hub.src.utils.preset_utils")
    if keras_hub_files is not None:
        paths = [keras_hub_files.get_file(handle, name) for name in files]
        folders = {os.path.dirname(os.path.abspath(p)) for p in paths}
        if len(folders) != 1:
            raise PresetError(
                f"keras_hub downloaded the files of {handle!r} into "
                f"{len(folders)} folders ({', '.join(sorted(folders))}); a "
                "preset's files must lie in one folder. Download the folder "
                "and give its path."
            )
        return folders.pop()
    package = SCHEMES[scheme]
    hub = optional_module(package)
    if hub is None:
        raise PresetError(
            f"Loading {handle!r} needs keras-hub (pip install keras-hub) or "
            f"{package} (pip install {package}) to download it; neither is "
            "installed. Or download the preset folder and give its path."
        )
    name = handle.split("://", 1)[1]
    if scheme == "hf":
        return hub.snapshot_download(repo_id=name, library_name="kvae")
    return hub.model_download(name)


def optional_module(name):
    """The module `name`, or `None` when it (or its package) is not
    installed."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError:
        return None
