"""`kvae.VAE.presets` and `kvae.VAE.from_preset`, for every model class."""

from kvae.presets import loader


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
    def from_preset(cls, preset, **kwargs):
        """Loads a preset: a shipped preset's name or a preset folder.

        Returns the class the preset was saved as (`kvae.VAE.from_preset`
        returns a `HierarchicalVAE` preset as one); through a subclass,
        only presets of that subclass load.

        Args:
            preset: str or path-like. A name from `kvae.VAE.presets`, or a
                folder written by `kvae.presets.export_preset`.
            **kwargs: passed to `kvae.load_model` (`compile`,
                `safe_mode`, `custom_objects`).

        Returns:
            The model, built, uncompiled (call `compile` to train on).

        Raises:
            kvae.presets.PresetError: an unknown name (the message lists
                the known ones), an incomplete or corrupt folder (it names
                the missing file), or a preset of another class.
            FileNotFoundError: a path with nothing there.

        Example:

        ```python
        model = kvae.VAE.from_preset("kmnist_conv_vae")
        images = model.sample(16)
        ```
        """
        return loader.load_preset(preset, cls, **kwargs)
