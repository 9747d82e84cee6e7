"""`export_preset`: a finished run, or a trained model, as a preset
folder with the record of how it was trained."""

import json
import os

import keras

from kvae.loading import load_model
from kvae.presets.loader import METADATA_FILE
from kvae.presets.samplers import copy_samplers
from kvae.presets.saver import ENVIRONMENT_KEYS
from kvae.presets.saver import save_preset
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


def export_preset(
    source,
    preset_dir,
    description,
    command,
    dataset=None,
    test_metrics=None,
    overwrite=False,
    samplers=None,
    **metadata,
):
    """Writes a preset folder from a finished recipe run or a trained model.

    `model.save_to_preset(preset_dir, ...)` with the record a shipped
    preset needs: what it was trained on, how, and how well it does. The
    folder gets `config.json`, `model.weights.h5` (without the optimizer's
    state: what inference and fine-tuning need) and `metadata.json`. From
    a run folder, the dataset, the test metrics, the training settings and
    the backend, versions and commit it was trained with are read from its
    `metrics.json`. To ship a preset with kvae, write it into
    `kvae/presets/<name>/` (`kvae.presets.SHIPPED_DIR`).

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
        samplers: dict or `None`. Fitted samplers to keep beside the
            model, `{kind: sampler}` (written as `sampler_<kind>.npz`;
            `kvae.presets.load_sampler` reads them). `None`: a run
            folder's own `sampler_*.npz` files, none for a model.
        **metadata: more fields for `metadata.json`.

    Returns:
        dict. The metadata written.

    Raises:
        FileNotFoundError: the run folder lacks `model.keras` or
            `metrics.json`.
        ValueError: a description that is empty or longer than one line, a
            model given without `dataset` or `test_metrics`, an unbuilt
            model, or a preset folder that already holds a preset (without
            `overwrite`).

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
    if isinstance(source, keras.Model):
        record = _model_record(dataset, test_metrics)
        model = source
    else:
        record, model_path = _run_record(os.fspath(source))
        model = load_model(model_path, compile=False)
        if dataset is not None:
            record["dataset"] = dataset
        record["test_metrics"].update(test_metrics or {})
    record.update(description=description, command=str(command), **metadata)
    written = save_preset(model, preset_dir, overwrite=overwrite, **record)
    kinds = copy_samplers(source, os.fspath(preset_dir), samplers)
    if kinds:
        written["samplers"] = kinds
        write_json(os.path.join(preset_dir, METADATA_FILE), written)
    return written


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
    # A run that did not record its commit (or backend) says so: None.
    record = {key: metrics.get(key) for key in ENVIRONMENT_KEYS}
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


def _model_record(dataset, test_metrics):
    if dataset is None or not test_metrics:
        raise ValueError(
            "Exporting a model (not a run folder) needs dataset=... and "
            "test_metrics={...}: a preset says what it was trained on and "
            "how well it does. A recipe's run folder has both."
        )
    return {"dataset": dataset, "test_metrics": dict(test_metrics)}
