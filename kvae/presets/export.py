"""`export_preset`: a finished run, or a trained model, as a preset
folder."""

import json
import os
import tempfile

import keras

from kvae.loading import load_model
from kvae.presets.loader import METADATA_FILE
from kvae.presets.loader import MODEL_FILE
from kvae.utils import atomic_path
from kvae.utils import environment
from kvae.utils import write_json

# The test figures of a run's metrics.json that a preset keeps.
TEST_METRIC_KEYS = (
    "negative_elbo",
    "reconstruction_loss",
    "kl_loss",
    "iwae_nll",
    "iwae_samples",
    "iwae_examples",
    "negative_elbo_bits_per_dim",
    "iwae_nll_bits_per_dim",
    "mse",
    "ssim",
    "psnr",
    "test_split",
    "test_examples",
)
# What else of a run's metrics.json describes how the model was trained.
TRAINING_KEYS = (
    "recipe",
    "train_split",
    "train_examples",
    "binarized",
    "epochs",
    "batch_size",
    "seed",
    "precision",
    "device",
    "config",
)
_ENVIRONMENT_KEYS = ("backend", "backend_version", "kvae_version")


def export_preset(
    source,
    preset_dir,
    description,
    command,
    dataset=None,
    test_metrics=None,
    overwrite=False,
    **metadata,
):
    """Writes a preset folder from a finished recipe run or a trained model.

    The folder gets `model.keras` (the model without its optimizer state:
    what inference and fine-tuning need, half the size of a run's file)
    and `metadata.json`. From a run folder, the dataset, the test metrics,
    the training settings and the backend and versions it was trained with
    are read from its `metrics.json`. To ship a preset with kvae, write it
    into `kvae/presets/<name>/` (`kvae.presets.SHIPPED_DIR`).

    Args:
        source: a run folder (str or path-like, holding `model.keras` and
            `metrics.json`, as every recipe writes), or a `kvae.VAE`.
        preset_dir: str or path-like. The preset folder to write; its name
            is the preset's name.
        description: str. One line: data, model and test metrics, shown by
            `kvae.VAE.presets`.
        command: str. The command that trained the model, so that anyone
            can train it again.
        dataset: str or `None`. The dataset; read from the run when `None`.
            Required for a model.
        test_metrics: dict or `None`. Test figures; a run's are read from
            its `metrics.json` (these override them). Required for a model.
        overwrite: bool. Replace the files of an existing preset folder.
        **metadata: more fields for `metadata.json` (`commit`, ...).

    Returns:
        dict. The metadata written.

    Raises:
        FileNotFoundError: the run folder lacks `model.keras` or
            `metrics.json`.
        ValueError: a description that is empty or longer than one line, a
            model given without `dataset` or `test_metrics`, or a preset
            folder that already holds a preset (without `overwrite`).

    Example:

    ```python
    kvae.presets.export_preset(
        "runs/kmnist",
        "my_presets/kmnist_conv_vae",
        description="KMNIST, conv VAE, 16-D latent",
        command="python -m kvae.recipes.kmnist",
    )
    ```
    """
    description = str(description).strip()
    if not description or "\n" in description:
        raise ValueError(
            "A preset's description is one line (data, model, test "
            f"metrics); got {description!r}."
        )
    preset_dir = os.fspath(preset_dir)
    taken = [
        name
        for name in (MODEL_FILE, METADATA_FILE)
        if os.path.exists(os.path.join(preset_dir, name))
    ]
    if taken and not overwrite:
        raise ValueError(
            f"{preset_dir!r} already holds a preset ({', '.join(taken)}). "
            "Pass overwrite=True to replace it, or give another folder."
        )
    if isinstance(source, keras.Model):
        record = _model_record(source, dataset, test_metrics)
        model = _without_optimizer(source)
    else:
        record, model_path = _run_record(os.fspath(source))
        model = load_model(model_path, compile=False)
        if dataset is not None:
            record["dataset"] = dataset
        record["test_metrics"].update(test_metrics or {})
    saved = type(model)
    record.update(
        description=description,
        command=str(command),
        class_name=saved.__name__,
        registered_name=keras.saving.get_registered_name(saved),
        keras_version=keras.__version__,
        saved_with_backend=keras.backend.backend(),
        **metadata,
    )
    os.makedirs(preset_dir, exist_ok=True)
    with atomic_path(os.path.join(preset_dir, MODEL_FILE), ".keras") as tmp:
        model.save(tmp)
    record["model_bytes"] = os.path.getsize(
        os.path.join(preset_dir, MODEL_FILE)
    )
    write_json(os.path.join(preset_dir, METADATA_FILE), record)
    return record


def _run_record(run_dir):
    """The metadata a run folder gives, and the path of its model."""
    paths = {
        name: os.path.join(run_dir, name)
        for name in ("model.keras", "metrics.json")
    }
    missing = [name for name, path in paths.items() if not os.path.isfile(path)]
    if missing:
        raise FileNotFoundError(
            f"{run_dir!r} is not a finished recipe run: it lacks "
            f"{' and '.join(missing)}. A recipe writes both into its --out "
            "folder when training ends; give that folder, or pass the "
            "trained model itself."
        )
    with open(paths["metrics.json"], encoding="utf-8") as f:
        metrics = json.load(f)
    record = {key: metrics[key] for key in _ENVIRONMENT_KEYS if key in metrics}
    record["dataset"] = metrics.get("dataset")
    # kl_loss_1, kl_loss_2, ...: a hierarchical model's KL per level.
    record["test_metrics"] = {
        key: value
        for key, value in metrics.items()
        if key in TEST_METRIC_KEYS or key.startswith("kl_loss_")
    }
    record["training"] = {
        key: metrics[key] for key in TRAINING_KEYS if key in metrics
    }
    return record, paths["model.keras"]


def _model_record(model, dataset, test_metrics):
    if dataset is None or not test_metrics:
        raise ValueError(
            "Exporting a model (not a run folder) needs dataset=... and "
            "test_metrics={...}: a preset says what it was trained on and "
            "how well it does. A recipe's run folder has both."
        )
    env = environment()
    record = {key: env[key] for key in _ENVIRONMENT_KEYS}
    record.update(dataset=dataset, test_metrics=dict(test_metrics))
    return record


def _without_optimizer(model):
    """A copy of `model` saved and loaded back uncompiled: no optimizer
    state goes into the preset."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        model.save(path)
        return load_model(path, compile=False)
