"""Saving and loading of `kvae.VAE`: its constructor arguments, its build
shape, and a compile config that loads under every backend."""

import keras


def portable_optimizer(config):
    """Points optimizers at `keras.optimizers`, not a backend's subclass.

    Under torch, Keras saves an Adam optimizer with the module
    `keras.src.backend.torch.optimizers.torch_adam`; loading that file under
    JAX or TensorFlow then runs torch code and fails in `fit` (a Keras bug).
    The public class of the same name is the portable choice.

    Args:
        config: a compile config, or any part of one (dicts and lists are
            searched recursively).

    Returns:
        A copy of `config` with such optimizer modules replaced.
    """
    if isinstance(config, dict):
        module = config.get("module")
        if (
            isinstance(module, str)
            and module.startswith("keras.src.backend.")
            and ".optimizers" in module
            and hasattr(keras.optimizers, config.get("class_name", ""))
        ):
            config = dict(config, module="keras.optimizers")
        return {k: portable_optimizer(v) for k, v in config.items()}
    if isinstance(config, list):
        return [portable_optimizer(v) for v in config]
    return config


def _deserialize_part(role, config):
    """The `role` ("encoder", "decoder", "prior") of a saved model.

    An unregistered custom class fails deep in Keras with a `TypeError`
    that Keras then wraps after a dump of the whole model's config; this
    error says first which part and class could not be found, and how to
    make it loadable. It is a `ValueError`, so Keras does not wrap it.
    """
    try:
        return keras.saving.deserialize_keras_object(config)
    except TypeError as error:
        name = config.get("class_name", "?")
        module = config.get("module") or config.get("registered_name")
        raise ValueError(
            f"Cannot load the {role} of this kvae model: its class {name!r} "
            f"(saved from {module!r}) is not registered with Keras. Import "
            "the module that defines it before load_model, decorated with "
            "@keras.saving.register_keras_serializable(), or pass "
            f"custom_objects={{{name!r}: {name}}} to load_model.\n"
            f"Keras said: {error}"
        ) from error


class SavingMixin:
    """The configs `kvae.VAE` is saved and loaded with: its constructor
    arguments, its build shape and its compile arguments."""

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "encoder": keras.saving.serialize_keras_object(self.encoder),
                "decoder": keras.saving.serialize_keras_object(self.decoder),
                "likelihood": self.likelihood,
                "beta": self.beta,
                "kl_warmup_steps": self.kl_warmup_steps,
                "prior": keras.saving.serialize_keras_object(self.prior),
                "objective": self.objective,
                "num_samples": self.num_samples,
                "free_bits": self.free_bits,
                "sigma": self.sigma,
                "image_metrics": self.image_metrics,
                "image_metrics_batch": self.image_metrics_batch,
                "max_val": self.max_val,
                "skip_gradient_norm": self.skip_gradient_norm,
                "seed": self.seed,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("encoder", "decoder", "prior"):
            if isinstance(config.get(key), dict):
                config[key] = _deserialize_part(key, config[key])
        return cls(**config)

    def get_build_config(self):
        if self.image_shape is None:
            return None
        return {"input_shape": (None,) + tuple(self.image_shape)}

    def build_from_config(self, config):
        if config and config.get("input_shape"):
            self.build(config["input_shape"])

    # The noise generators' states are saved with the weights (Keras saves
    # only a layer's own variables, and a `SeedGenerator`'s state is not
    # one), so a reloaded or restored model continues the noise stream.
    _SEED_KEY = "seed_generator_"

    def save_own_variables(self, store):
        super().save_own_variables(store)
        for i, generator in enumerate(self._seed_generators):
            store[f"{self._SEED_KEY}{i}"] = generator.state

    def load_own_variables(self, store):
        keys = list(store.keys())
        own = {k: store[k] for k in keys if not k.startswith(self._SEED_KEY)}
        super().load_own_variables(own)
        # Files written before the states were saved lack them.
        for i, generator in enumerate(self._seed_generators):
            key = f"{self._SEED_KEY}{i}"
            if key in keys:
                generator.state.assign(store[key])

    def get_compile_config(self):
        return portable_optimizer(super().get_compile_config())

    def compile_from_config(self, config):
        config = keras.saving.deserialize_keras_object(
            portable_optimizer(config)
        )
        self.compile(**config)
        if self.built:
            self.optimizer.build(self.trainable_variables)
