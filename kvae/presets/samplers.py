"""The fitted samplers a preset keeps beside its model: `sampler_<kind>.npz`
files, as a recipe run writes them (`kvae.samplers`)."""

import os
import re
import shutil

from kvae.presets.errors import PresetError
from kvae.presets.loader import read_metadata
from kvae.samplers import load_sampler as load_sampler_file
from kvae.samplers.sampler import sampler_file_name

# The names `sampler_file_name` gives, with the kind as the group.
_FILE = re.compile(r"^sampler_(\w+)\.npz$")


def sampler_files(folder):
    """`{kind: path}` of the sampler files in `folder`, sorted by kind."""
    found = {}
    for name in sorted(os.listdir(folder)):
        match = _FILE.match(name)
        if match and os.path.isfile(os.path.join(folder, name)):
            found[match.group(1)] = os.path.join(folder, name)
    return found


def copy_samplers(source, preset_dir, samplers):
    """Writes a preset's sampler files: those of the run folder `source`
    (`samplers=None`), or `samplers` (`{kind: fitted sampler}`)."""
    if samplers is None:
        if not isinstance(source, (str, os.PathLike)):
            return []
        found = sampler_files(os.fspath(source))
        for kind, path in found.items():
            shutil.copyfile(
                path, os.path.join(preset_dir, sampler_file_name(kind))
            )
        return list(found)
    for kind, sampler in samplers.items():
        if not _FILE.match(sampler_file_name(kind)):
            raise ValueError(
                "A sampler's kind is a word (letters, digits, _); got "
                f"{kind!r}."
            )
        sampler.save(os.path.join(preset_dir, sampler_file_name(kind)))
    return sorted(samplers)


def load_sampler(preset, model, kind="gaussian_mixture"):
    """The fitted sampler of kind `kind` that a preset ships, bound to
    `model` (the preset's model, from `from_preset`).

    A recipe run fits samplers to the codes of its training images
    (`--samplers`); a preset exported from it keeps them, and
    `read_metadata(preset)["samplers"]` lists their kinds. Sampling from a
    fitted sampler rather than the prior draws codes where the encoder put
    the training images (docs/generation.md).

    Args:
        preset: str or path-like. A shipped preset's name or a preset
            folder.
        model: the model loaded from the same preset.
        kind: str. `"gaussian_mixture"`, `"two_stage"` or `"flow"`.

    Returns:
        The sampler, fitted, with `sample(n)` decoding through `model`.

    Raises:
        kvae.presets.PresetError: the preset has no sampler of that kind
            (the message lists the kinds it has).

    Example:

    ```python
    model = kvae.VAE.from_preset("kmnist_conv_vae")
    sampler = kvae.presets.load_sampler("kmnist_conv_vae", model)
    images = sampler.sample(16)
    ```
    """
    folder = read_metadata(preset)["path"]
    found = sampler_files(folder)
    if kind not in found:
        has = ", ".join(map(repr, found)) if found else "none"
        raise PresetError(
            f"The preset {os.fspath(preset)!r} has no {kind!r} sampler "
            f"(its samplers: {has}). Sample from the model's prior with "
            "model.sample(n), or fit one: kvae.samplers."
            "GaussianMixtureSampler().fit(model, training_images)."
        )
    return load_sampler_file(found[kind], model)
