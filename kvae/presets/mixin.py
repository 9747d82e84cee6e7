"""`kvae.VAE.presets`, `from_preset` and `save_to_preset`, for every model
class."""

from kvae.presets import loader
from kvae.presets import saver


class classproperty(property):
    """A read-only property of the class (`kvae.VAE.presets`)."""

    def __get__(self, instance, owner=None):
        return self.fget(owner if owner is not None else type(instance))


class PresetsMixin:
    """The presets of a model class, as keras-hub's `Backbone` has them."""

    @classproperty
    def presets(cls):
        """The shipped presets that load as this class:
        `{name: one-line description}` (data, model, test metrics)."""
        return loader.presets_of(cls)

    @classmethod
    def from_preset(cls, preset, load_weights=True, **kwargs):
        """Loads a preset: a shipped preset's name, a preset folder, or an
        `hf://` or `kaggle://` handle.

        Returns the class the preset was saved as (`kvae.VAE.from_preset`
        returns a `HierarchicalVAE` preset as one); through a subclass,
        only presets of that subclass load. A remote handle is downloaded
        by keras-hub when it is installed, else by `huggingface_hub` or
        `kagglehub` (see docs/presets.md).

        Args:
            preset: str or path-like. A name from `kvae.VAE.presets`, a
                folder written by `save_to_preset`, or a remote handle
                (`"hf://<org>/<name>"`,
                `"kaggle://<org>/<model>/keras/<variation>"`).
            load_weights: bool. `False` gives the architecture with new
                random weights.
            **kwargs: passed to `keras.saving.deserialize_keras_object`
                (`custom_objects`, `safe_mode`).

        Returns:
            The model, built, uncompiled (call `compile` to train on).

        Raises:
            kvae.presets.PresetError: an unknown name (the message lists
                the known ones), an incomplete or corrupt folder (it names
                the missing or damaged file), a preset of another class,
                or a remote handle with no downloader installed.
            FileNotFoundError: a path with nothing there.

        Example:

        ```python
        model = kvae.VAE.from_preset("kmnist_conv_vae")
        images = model.sample(16)
        ```
        """
        return loader.load_preset(preset, cls, load_weights, **kwargs)

    def save_to_preset(self, preset_dir, overwrite=False, **metadata):
        """Saves this model as a preset folder, in keras-hub's layout.

        The folder gets `config.json` (the model's serialized config,
        without an optimizer), `model.weights.h5` (its weights, without the
        optimizer's state) and `metadata.json`: the versions, backend,
        commit, precision and parameter count, and `metadata`. A preset
        loads back with `from_preset(preset_dir)` under any backend.
        `kvae.presets.export_preset` writes a preset from a recipe run,
        with the record of how it was trained.

        Args:
            preset_dir: str or path-like. The folder; its name is the
                preset's name.
            overwrite: bool. Replace the files of an existing preset.
            **metadata: JSON fields for `metadata.json`: `description`
                (one line, shown by `kvae.VAE.presets`), `dataset`,
                `command`, `test_metrics`, ...

        Returns:
            dict. The metadata written.

        Raises:
            ValueError: an unbuilt model, or a folder that holds a preset
                already (without `overwrite`).

        Example:

        ```python
        model.save_to_preset("my_vae", description="my data, conv VAE")
        model = kvae.VAE.from_preset("my_vae")
        ```
        """
        return saver.save_preset(self, preset_dir, overwrite, **metadata)
