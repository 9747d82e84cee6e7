"""Every preset shipped in kvae/presets/ loads, and its test metrics,
recomputed on a slice of the test split it was evaluated on, match its
metadata.

Tolerance: on the first `SLICE` images of the recorded test split, the
-ELBO within `ELBO_RTOL` (5 %) of the recorded figure and SSIM within
`SSIM_ATOL` (0.03). The recorded figures are means over the whole split
with one noise draw per image; a slice of 500 images has a standard error
of about 1 % of the -ELBO (per-image spread of about 20 %), so 5 % leaves
room for the slice and for another backend, and still fails for a wrong
model, weights or preprocessing (a VAE a few epochs from its end is more
than 5 % worse). With no preset shipped, the parametrized test is skipped.
"""

import dataclasses
import os

import pytest

import kvae
from kvae import experiment

SHIPPED = sorted(kvae.presets.shipped_presets())
SLICE = 500
ELBO_RTOL = 0.05
SSIM_ATOL = 0.03
# Everything inside the package's preset folders goes into the wheel.
MAX_PACKAGE_DATA_BYTES = 20 * 2**20
# The record every shipped preset keeps: how to train it again and how
# well it does (a commit of None: the run did not record one).
SHIPPED_KEYS = (
    "description",
    "dataset",
    "command",
    "commit",
    "training",
    "test_metrics",
    "backend",
    "precision",
    "kvae_version",
    "keras_version",
)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_preset_records_how_it_was_trained(name):
    metadata = kvae.presets.read_metadata(name)
    lacking = [key for key in SHIPPED_KEYS if key not in metadata]
    assert not lacking, lacking
    assert "\n" not in metadata["description"]
    assert kvae.VAE.presets[name] == metadata["description"]


def test_shipped_presets_are_small():
    total = sum(
        os.path.getsize(os.path.join(folder, name))
        for folder, _, names in os.walk(kvae.presets.SHIPPED_DIR)
        for name in names
        if not name.endswith((".py", ".pyc"))
    )
    assert total < MAX_PACKAGE_DATA_BYTES, f"{total / 2**20:.1f} MiB"


def run_config(metadata, shared_data):
    """The run's config, reading the test split from the shared data."""
    fields = metadata.get("training", {}).get("config")
    assert fields, (
        f"{metadata['path']}: a shipped preset is exported from a recipe "
        "run folder (kvae.presets.export_preset(run_dir, ...)), whose "
        "metrics.json holds the config it was trained with."
    )
    names = {f.name for f in dataclasses.fields(experiment.Config)}
    fields = {
        key: tuple(value) if isinstance(value, list) else value
        for key, value in fields.items()
        if key in names
    }
    # The classifier that scored the run's samples stays on the machine
    # that trained it, and evaluating the preset does not need it.
    fields["feature_model"] = None
    config = experiment.Config(**fields)
    if config.manual_dir is None:
        pytest.skip(f"{metadata['path']} was trained on downloaded data")
    folder = os.path.basename(os.path.normpath(config.manual_dir))
    return dataclasses.replace(
        config,
        manual_dir=os.path.join(shared_data, folder),
        max_test_examples=SLICE,
    )


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_preset_matches_its_metadata(name, shared_data):
    metadata = kvae.presets.read_metadata(name)
    assert metadata["path"] == os.path.join(kvae.presets.SHIPPED_DIR, name)
    assert name in kvae.VAE.presets
    model = kvae.VAE.from_preset(name)
    assert type(model).__name__ == metadata["class_name"]
    x, _, _ = experiment.load_test_split(run_config(metadata, shared_data))
    model.compile()
    got = kvae.evaluation.evaluate(model, x, num_samples=0)
    recorded = metadata["test_metrics"]
    assert got["negative_elbo"] == pytest.approx(
        recorded["negative_elbo"], rel=ELBO_RTOL
    )
    if "ssim" in recorded:
        assert got["ssim"] == pytest.approx(recorded["ssim"], abs=SSIM_ATOL)
