import csv
import json
import os
import shutil

import imageio.v3 as iio
import keras
import numpy as np
import pytest

from kvae import experiment
from kvae.experiment import compare
from tests.conftest import SHARED_DATA
from tests.recipes.test_likelihood import tiny_flags


@pytest.fixture(scope="module")
def runs(load_recipe, tmp_path_factory):
    """Two finished likelihood runs, trained once for the module: a conv
    VAE (ELBO, standard normal prior) and a hierarchical VAE with two
    latent groups (IWAE k=2, VampPrior with 5 components)."""
    if not os.path.isdir(SHARED_DATA):
        pytest.skip(f"shared data folder not found at {SHARED_DATA}")
    recipe = load_recipe("likelihood")
    root = tmp_path_factory.mktemp("runs")
    variants = {
        "vae": (
            "--model", "conv", "--prior", "standard_normal",
            "--prior-components", "none", "--latent-dim", "3",
        ),
        "hierarchical": (
            "--objective", "iwae", "--num-samples", "2", "--prior", "vamp",
            "--prior-components", "5",
        ),
    }  # fmt: skip
    folders = {}
    for name, extra in variants.items():
        folders[name] = str(root / name)
        recipe.main(tiny_flags(SHARED_DATA, folders[name], *extra))
    return folders


def _metrics(folder):
    with open(os.path.join(folder, "metrics.json"), encoding="utf-8") as f:
        return json.load(f)


def _history(folder):
    with open(os.path.join(folder, "history.csv"), encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}


def _table(text):
    """comparison.md's table as `{run name: {header: cell}}`."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    split = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    header = split[0]
    return {cells[0]: dict(zip(header, cells)) for cells in split[2:]}


@pytest.mark.slow
def test_table_figure_and_json(runs, tmp_path):
    out = tmp_path / "compare"
    rows = experiment.compare_runs(
        [runs["vae"], runs["hierarchical"]], str(out), announce=False
    )
    assert sorted(os.listdir(out)) == [
        "comparison.json",
        "comparison.md",
        "comparison.png",
    ]
    text = (out / "comparison.md").read_text()
    # Both runs were tested alike: no warning.
    assert "differ in" not in text
    table = _table(text)
    assert list(table) == ["vae", "hierarchical"]
    backend = keras.backend.backend()
    for name, folder in runs.items():
        metrics = _metrics(folder)
        cells = table[name]
        assert cells["epochs"] == "2"
        assert cells["test set"] == "mnist test[9900:]"
        assert cells["test images"] == "100"
        assert cells["test -ELBO"] == f"{metrics['negative_elbo']:.2f}"
        assert cells["IWAE NLL"] == f"{metrics['iwae_nll']:.2f}"
        assert cells["IWAE k"] == "8"
        assert cells["IWAE images"] == "32"
        assert cells["fit min"] == f"{metrics['fit_time_s'] / 60:.1f}"
        assert cells["epoch s"] == f"{metrics['epoch_s']:.1f}"
        assert cells["train img/s"] == f"{metrics['train_img_per_s']:.0f}"
        assert cells["backend"] == backend
        assert cells["precision"] == "float32"
    vae, hierarchical = table["vae"], table["hierarchical"]
    assert vae["model"] == "conv, latent 3"
    assert vae["prior"] == "standard_normal"
    assert vae["objective"] == "elbo"
    assert vae["KL"] == f"{_metrics(runs['vae'])['kl_loss']:.2f}"
    assert hierarchical["model"] == "hierarchical, latent 392+98"
    assert hierarchical["prior"] == "vamp K=5"
    assert hierarchical["objective"] == "iwae k=2"
    m = _metrics(runs["hierarchical"])
    assert hierarchical["KL"] == (
        f"{m['kl_loss']:.2f} ({m['kl_loss_1']:.2f} + {m['kl_loss_2']:.2f})"
    )

    saved = json.loads((out / "comparison.json").read_text())
    assert saved == rows
    assert [r["name"] for r in saved] == ["vae", "hierarchical"]
    assert saved[1]["kl_levels"] == [m["kl_loss_1"], m["kl_loss_2"]]
    assert saved[0]["kl_levels"] is None
    assert saved[1]["run_dir"] == os.path.abspath(runs["hierarchical"])

    image = iio.imread(out / "comparison.png")
    width, height = (
        round(inches * compare.FIGURE_DPI) for inches in compare.FIGURE_SIZE
    )
    assert image.shape[:2] == (height, width) == (420, 1200)
    assert image.std() > 10, "the figure is blank"


@pytest.mark.slow
def test_figure_draws_the_elbo_not_the_iwae_loss(runs):
    history = _history(runs["hierarchical"])
    elbo = history["val_reconstruction_loss"] + history["val_kl_loss"]
    # Under objective="iwae" the loss is the IWAE bound, below the -ELBO.
    assert np.all(history["val_loss"] < elbo - 1e-3)
    figure = compare.comparison_figure({"hierarchical": history})
    elbo_ax, kl_ax = figure.axes
    test, train = (line.get_ydata() for line in elbo_ax.get_lines())
    np.testing.assert_allclose(test, elbo)
    np.testing.assert_allclose(
        train, history["reconstruction_loss"] + history["kl_loss"]
    )
    test_kl = kl_ax.get_lines()[0].get_ydata()
    np.testing.assert_allclose(test_kl, history["val_kl_loss"])
    assert [t.get_text() for t in figure.legends[0].get_texts()] == [
        "hierarchical",
        "test",
        "train",
    ]


@pytest.mark.slow
def test_elbo_axis_spans_the_epochs_after_the_first(runs):
    histories = {name: _history(folder) for name, folder in runs.items()}
    figure = compare.comparison_figure(histories)
    low, high = figure.axes[0].get_ylim()
    elbos = [
        h[p + "reconstruction_loss"] + h[p + "kl_loss"]
        for h in histories.values()
        for p in ("", "val_")
    ]
    later = np.concatenate([e[1:] for e in elbos])
    assert low < later.min() and later.max() < high
    # The first epoch's train -ELBO, far above, is cut off.
    assert max(e[0] for e in elbos) > high


@pytest.mark.slow
def test_runs_measured_differently_are_flagged(runs, tmp_path):
    # The hierarchical run as if evaluated again with k=16 on 64 test images.
    other = tmp_path / "hierarchical_k16"
    shutil.copytree(runs["hierarchical"], other)
    metrics = _metrics(other)
    metrics.update(iwae_samples=16, iwae_examples=64, iwae_nll=123.456)
    (other / "metrics.json").write_text(json.dumps(metrics))
    out = tmp_path / "compare"
    experiment.compare_runs(
        [runs["hierarchical"], str(other)], out, announce=False
    )
    text = (out / "comparison.md").read_text()
    assert "The runs differ in IWAE k, IWAE images" in text
    table = _table(text)
    assert (
        table["hierarchical"]["IWAE k"],
        table["hierarchical"]["IWAE images"],
    ) == (
        "8",
        "32",
    )
    assert table["hierarchical_k16"]["IWAE k"] == "16"
    assert table["hierarchical_k16"]["IWAE images"] == "64"
    assert table["hierarchical_k16"]["IWAE NLL"] == "123.46"


@pytest.mark.slow
def test_command_line(runs, load_recipe, capsys, tmp_path):
    recipe = load_recipe("compare_runs")
    out = tmp_path / "compare"
    argv = [runs["vae"], runs["hierarchical"], "--out", str(out)]
    experiment.cli(recipe.main, argv + ["--names", "VAE", "hierarchical IWAE"])
    printed = capsys.readouterr().out
    assert set(_table(printed)) == {"VAE", "hierarchical IWAE"}
    for name in ("comparison.md", "comparison.png", "comparison.json"):
        assert name in printed
    assert str(out) in printed
    assert _table(printed) == _table((out / "comparison.md").read_text())
    before = (out / "comparison.md").stat().st_mtime_ns

    # A second comparison is refused, and changes nothing...
    with pytest.raises(SystemExit) as exit_info:
        experiment.cli(recipe.main, argv)
    assert exit_info.value.code == 1
    error = capsys.readouterr().err
    assert "holds a previous run's files" in error
    assert "comparison.md" in error and "--overwrite" in error
    assert (out / "comparison.md").stat().st_mtime_ns == before

    # ...unless --overwrite is given; other files stay.
    (out / "notes.txt").write_text("mine")
    experiment.cli(recipe.main, argv + ["--overwrite"])
    assert set(_table((out / "comparison.md").read_text())) == {
        "vae",
        "hierarchical",
    }
    assert (out / "notes.txt").read_text() == "mine"


def _refused(run_dirs, out, match, **kwargs):
    with pytest.raises(experiment.RunError, match=match):
        experiment.compare_runs(run_dirs, str(out), **kwargs)
    assert not os.path.exists(out), "nothing is written on an error"


def test_no_runs_or_missing_folder(tmp_path, load_recipe, capsys):
    out = tmp_path / "compare"
    _refused([], out, "give at least one run folder")
    missing = str(tmp_path / "nowhere")
    _refused([missing], out, "nowhere' does not exist")
    with pytest.raises(SystemExit) as exit_info:
        experiment.cli(
            load_recipe("compare_runs").main, [missing, "--out", str(out)]
        )
    assert exit_info.value.code == 1
    assert "does not exist" in capsys.readouterr().err
    assert not os.path.exists(out)


@pytest.mark.slow
def test_unfinished_runs_are_refused(runs, tmp_path):
    out = tmp_path / "compare"
    unfinished = tmp_path / "unfinished"
    shutil.copytree(runs["vae"], unfinished)
    os.remove(unfinished / "metrics.json")
    _refused(
        [runs["hierarchical"], str(unfinished)],
        out,
        "unfinished' is not a finished run: it has no metrics.json "
        r"\(metrics.json is written when training and evaluation finish\)",
    )
    no_history = tmp_path / "no_history"
    shutil.copytree(runs["vae"], no_history)
    os.remove(no_history / "history.csv")
    _refused([str(no_history)], out, "no_history' has no history.csv")


@pytest.mark.slow
def test_names_are_one_per_run_and_distinct(runs, tmp_path):
    out = tmp_path / "compare"
    both = [runs["vae"], runs["hierarchical"]]
    _refused(both, out, "1 names for 2 runs", names=["a"])
    _refused(both, out, "The names repeat 'a'", names=["a", "a"])
    # Two folders of the same name, in different places.
    twin = tmp_path / "elsewhere" / "vae"
    shutil.copytree(runs["vae"], twin)
    _refused(
        [runs["vae"], str(twin)], out, "folder names repeat 'vae'.*--names"
    )
    # ...which names tell apart.
    rows = experiment.compare_runs(
        [runs["vae"], str(twin)], str(out), names=["a", "b"], announce=False
    )
    assert [r["name"] for r in rows] == ["a", "b"]


@pytest.mark.slow
def test_out_cannot_be_a_compared_run(runs):
    before = sorted(os.listdir(runs["vae"]))
    with pytest.raises(experiment.RunError, match="is one of the runs"):
        experiment.compare_runs([runs["vae"]], runs["vae"], overwrite=True)
    assert sorted(os.listdir(runs["vae"])) == before


def test_figure_puts_runs_of_different_speed_on_one_time_axis():
    history = {
        f"{prefix}{name}": np.array([100.0, 90.0, 85.0])
        for prefix in ("", "val_")
        for name in ("reconstruction_loss", "kl_loss", "loss")
    }
    figure = compare.comparison_figure(
        {"fast": history, "slow": history, "measured": history},
        {"fast": 0.5, "slow": 2.0, "measured": [3.0, 1.0, 2.0]},
    )
    elbo_ax, kl_ax, time_ax = figure.axes
    fast, slow, measured = time_ax.get_lines()
    np.testing.assert_allclose(fast.get_xdata(), [0.5, 1.0, 1.5])
    np.testing.assert_allclose(slow.get_xdata(), [2.0, 4.0, 6.0])
    # Each epoch's own time, the first with its compilation, summed.
    np.testing.assert_allclose(measured.get_xdata(), [3.0, 4.0, 6.0])
    np.testing.assert_allclose(slow.get_ydata(), [200.0, 180.0, 170.0])
    assert time_ax.get_xlabel() == "training minutes"
    assert len(compare.comparison_figure({"fast": history}).axes) == 2


def test_time_axis_uses_each_epochs_measured_seconds():
    history = {"val_kl_loss": [1.0, 1.0, 1.0]}
    measured = {"epoch_seconds": [120.0, 60.0, 90.0], "epoch_s": 75.0}
    assert compare._epoch_minutes(measured, history) == [2.0, 1.0, 1.5]
    # A run that recorded no per-epoch times, or not one per epoch of its
    # history, is drawn at its median epoch time.
    assert compare._epoch_minutes({"epoch_s": 75.0}, history) == 1.25
    short = {"epoch_seconds": [120.0, 60.0], "epoch_s": 75.0}
    assert compare._epoch_minutes(short, history) == 1.25
