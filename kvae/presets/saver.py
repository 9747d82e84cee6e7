"""`save_preset`: a model as a preset folder in keras-hub's layout."""

import datetime
import os
import tempfile

import keras

from kvae import loading
from kvae.presets.loader import CONFIG_FILE
from kvae.presets.loader import FILES
from kvae.presets.loader import METADATA_FILE
from kvae.presets.loader import WEIGHTS_FILE
from kvae.presets.samplers import sampler_files
from kvae.utils import atomic_path
from kvae.utils import environment
from kvae.utils import write_json

# What this process says of itself; a run's own values (the backend it was
# trained under) replace them in `export_preset`.
ENVIRONMENT_KEYS = ("backend", "backend_version", "kvae_version", "commit")


def save_preset(model, preset_dir, overwrite=False, **metadata):
    """Writes `model` into `preset_dir` as a preset (see
    `kvae.VAE.save_to_preset`); returns the metadata written."""
    preset_dir = os.fspath(preset_dir)
    taken = [
        name for name in FILES if os.path.exists(os.path.join(preset_dir, name))
    ]
    if taken and not overwrite:
        raise ValueError(
            f"{preset_dir!r} already holds a preset ({', '.join(taken)}). "
            "Pass overwrite=True to replace it, or give another folder."
        )
    if not model.built:
        raise ValueError(
            "save_to_preset() needs a built model: train it (fit) or build "
            "it first; an unbuilt model has no weights to save."
        )
    model = _without_optimizer(model)
    env = environment()
    record = {key: env[key] for key in ENVIRONMENT_KEYS}
    record.update(metadata)
    saved = type(model)
    record.update(
        class_name=saved.__name__,
        registered_name=keras.saving.get_registered_name(saved),
        precision=model.dtype_policy.name,
        parameter_count=model.count_params(),
        # keras-hub's fields and date format.
        keras_version=keras.__version__,
        date_saved=datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
        saved_with_backend=keras.backend.backend(),
    )
    os.makedirs(preset_dir, exist_ok=True)
    # Samplers fitted to the model this preset held draw its codes, not
    # this one's.
    for path in sampler_files(preset_dir).values():
        os.remove(path)
    weights = os.path.join(preset_dir, WEIGHTS_FILE)
    with atomic_path(weights, ".weights.h5") as tmp:
        model.save_weights(tmp)
    record["weights_bytes"] = os.path.getsize(weights)
    write_json(os.path.join(preset_dir, CONFIG_FILE), model_config(model))
    write_json(os.path.join(preset_dir, METADATA_FILE), record)
    return record


def model_config(model):
    """`config.json`: the model serialized as `keras.saving` does, without
    its compile config (a preset has no optimizer). Unlike keras-hub's,
    which drops it, the build config stays: kvae's models are subclassed
    and are built from it before their weights load."""
    config = keras.saving.serialize_keras_object(model)
    config.pop("compile_config", None)
    return config


def _without_optimizer(model):
    """`model`, or a copy of it loaded back uncompiled: `save_weights`
    writes a compiled model's optimizer state too, which a preset, for
    inference and fine-tuning, does not keep."""
    if getattr(model, "optimizer", None) is None:
        return model
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        model.save(path)
        return loading.load_model(path, compile=False)
