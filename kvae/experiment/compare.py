"""`compare_runs`: finished runs side by side, in one table and one figure."""

import csv
import dataclasses
import inspect
import json
import math
import os

import numpy as np

from kvae import priors
from kvae.experiment.config import Config
from kvae.experiment.errors import RunError
from kvae.experiment.report import markdown_table
from kvae.experiment.report import prepare_output
from kvae.utils import atomic_path
from kvae.utils import write_json
from kvae.utils import write_text

OUTPUTS = {
    "comparison.md": "the table above",
    "comparison.png": "test and train -ELBO and KL per epoch, and test "
    "-ELBO per training minute, one colour per run",
    "comparison.json": "the rows of the table, as numbers",
}
# Width and height in inches at 100 dpi: a 1200 x 420 pixel PNG.
FIGURE_SIZE = (12.0, 4.2)
FIGURE_DPI = 100
# history.csv columns the figure needs: the -ELBO is the sum of the two
# terms, never `loss` (the IWAE bound for objective="iwae", and
# reconstruction + beta * KL during a KL warm-up).
_HISTORY_COLUMNS = (
    "reconstruction_loss",
    "kl_loss",
    "val_reconstruction_loss",
    "val_kl_loss",
)
_COLUMNS = (
    ("name", "run", "{}"),
    ("model", "model", "{}"),
    ("prior", "prior", "{}"),
    ("objective", "objective", "{}"),
    ("epochs", "epochs", "{}"),
    ("test_set", "test set", "{}"),
    ("test_examples", "test images", "{}"),
    ("negative_elbo", "test -ELBO", "{:.2f}"),
    ("kl", "KL", "{}"),
    ("iwae_nll", "IWAE NLL", "{:.2f}"),
    ("iwae_samples", "IWAE k", "{}"),
    ("iwae_examples", "IWAE images", "{}"),
    ("fit_min", "fit min", "{:.1f}"),
    ("epoch_s", "epoch s", "{:.1f}"),
    ("train_img_per_s", "train img/s", "{:.0f}"),
    ("backend", "backend", "{}"),
    ("precision", "precision", "{}"),
)


def compare_runs(run_dirs, out, names=None, overwrite=False, announce=True):
    """Writes a table and a figure comparing finished recipe runs.

    Each folder of `run_dirs` is a finished run of a recipe
    (`kvae.experiment.train_and_evaluate`): its `metrics.json` gives a row
    of the table, its `history.csv` the curves. Into `out` go
    `comparison.md` (one row per run: model, prior, objective, epochs,
    test set, test -ELBO, KL with one term per level of a hierarchical
    model, IWAE NLL with its k and number of images, fit minutes, median
    epoch seconds, train img/s, backend, precision), `comparison.png`
    (test -ELBO and KL per epoch, test solid and train dashed, one colour
    per run; the -ELBO is reconstruction + KL, not `loss`, which is the
    IWAE bound for `objective="iwae"`) and `comparison.json` (the rows).
    Runs tested on different images, or whose IWAE NLL used another k or
    number of images, may be compared: each row shows them, and the
    table's notes say when they differ.

    Every folder is read and checked before anything is written; each
    file is written atomically.

    Args:
        run_dirs: sequence of str. The run folders (a recipe's `--out`).
        out: str. The folder to write into. A folder holding a previous
            comparison is refused unless `overwrite` is true.
        names: sequence of str or `None`. One name per run, for the table
            and the legend; `None` names each run by its folder.
        overwrite: bool. Replace a previous comparison in `out`.
        announce: bool. Print the table and the files written.

    Returns:
        list of dicts: the rows, as written to comparison.json: `name`,
        `run_dir`, `model`, `prior`, `objective` (as in the table),
        `epochs`, `dataset`, `test_set`, `test_examples`,
        `negative_elbo`, `kl_loss`, `kl_levels` (the KL of each level,
        bottom first, or `None`), `iwae_nll`, `iwae_samples`,
        `iwae_examples`, `fit_min`, `epoch_s`, `train_img_per_s`,
        `backend` and `precision`; a number a run lacks is `None`.

    Raises:
        RunError: no run folders, a folder that does not exist or holds
            no finished run (no metrics.json or history.csv), names that
            are repeated or not one per run, `out` being one of the runs,
            or `out` holding a previous comparison without `overwrite`.

    Example:

    ```python
    from kvae import experiment

    rows = experiment.compare_runs(
        ["runs/likelihood-vae", "runs/likelihood"],
        "runs/compare",
        names=["conv VAE", "hierarchical VAE"],
    )
    print(rows[1]["iwae_nll"], rows[1]["kl_levels"])
    ```
    """
    run_dirs = [os.fspath(d) for d in run_dirs]
    names = _names(run_dirs, names)
    out = os.fspath(out)
    for run_dir in run_dirs:
        if os.path.abspath(run_dir) == os.path.abspath(out):
            raise RunError(
                f"--out {out!r} is one of the runs compared: give a folder "
                "of its own for the comparison."
            )
    runs = [_read_run(d) for d in run_dirs]
    rows = [
        _row(name, run_dir, metrics)
        for name, run_dir, (metrics, _) in zip(names, run_dirs, runs)
    ]
    epoch_minutes = None
    if all(row["epoch_s"] for row in rows):
        epoch_minutes = {
            row["name"]: _epoch_minutes(metrics, history)
            for row, (metrics, history) in zip(rows, runs)
        }
    figure = comparison_figure(
        {row["name"]: history for row, (_, history) in zip(rows, runs)},
        epoch_minutes,
    )
    table = comparison_table(rows)
    with prepare_output(out, overwrite=overwrite, outputs=OUTPUTS):
        write_text(os.path.join(out, "comparison.md"), table + "\n")
        with atomic_path(os.path.join(out, "comparison.png")) as tmp:
            figure.savefig(tmp, format="png")
        write_json(os.path.join(out, "comparison.json"), rows)
    if announce:
        print(f"{table}\n\nWrote {os.path.abspath(out)}:")
        for name, description in OUTPUTS.items():
            print(f"  {name:<16} {description}")
    return rows


def comparison_table(rows):
    """The markdown of comparison.md for `compare_runs`'s rows: a title,
    what the numbers are, a warning when rows were measured on different
    images, and the table."""
    lines = [
        f"# {len(rows)} runs compared",
        "",
        "Test -ELBO, KL (total, and per level bottom first for a "
        "hierarchical model) and IWAE NLL (an upper bound on -log p(x) from "
        "k importance samples, on the number of test images shown) are in "
        "nats per image. Fit minutes are the whole `fit`; epoch s and train "
        "img/s are medians over the epochs after the first (which "
        "compiles).",
    ]
    differ = [
        label
        for label, key in (
            ("test sets", "test_set"),
            ("test images", "test_examples"),
            ("IWAE k", "iwae_samples"),
            ("IWAE images", "iwae_examples"),
        )
        if len({row[key] for row in rows}) > 1
    ]
    if differ:
        lines += [
            "",
            f"**The runs differ in {', '.join(differ)}**: their numbers "
            "are not measured alike, so compare them with care.",
        ]
    # A "|" in a name would end its cell.
    cells = [
        {**row, "name": row["name"].replace("|", "\\|"), "kl": _kl_cell(row)}
        for row in rows
    ]
    lines += ["", markdown_table(cells, _COLUMNS)]
    return "\n".join(lines)


def comparison_figure(histories, epoch_minutes=None):
    """The figure of comparison.png: test (solid) and train (dashed)
    -ELBO and KL per epoch, one colour per run, and, given
    `epoch_minutes`, the test -ELBO against minutes of training (the sum
    of the run's epoch times up to each epoch: runs of different speed
    compared at equal training time).

    The -ELBO axis spans the values from the second epoch on: the first
    epoch's (often twice the final ones) would flatten the end of the
    curves, where the runs differ.

    Args:
        histories: dict. Run name to its history.csv columns (name to a
            list of floats).
        epoch_minutes: dict or `None`. Run name to its minutes per epoch:
            one number for every epoch, or a sequence of each epoch's
            minutes (as measured, the first with its compilation).

    Returns:
        A `matplotlib.figure.Figure` of `FIGURE_SIZE` inches.
    """
    from matplotlib import colormaps
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    palette = colormaps["tab10" if len(histories) <= 10 else "tab20"].colors
    figure = Figure(figsize=FIGURE_SIZE, dpi=FIGURE_DPI)
    panels = [("-ELBO (nats)", _negative_elbo, None)]
    panels.append(("KL (nats)", _kl, None))
    if epoch_minutes:
        panels.append(("test -ELBO (nats)", _negative_elbo, epoch_minutes))
    axes = figure.subplots(1, len(panels))
    for ax, (title, curve, minutes) in zip(axes, panels):
        later = []
        for i, (name, history) in enumerate(histories.items()):
            color = palette[i % len(palette)]
            styles = (("val_", "-", 1.8), ("", "--", 1.0))
            for prefix, style, width in styles[: 1 if minutes else 2]:
                values = curve(history, prefix)
                x = np.arange(1, len(values) + 1, dtype=float)
                if minutes:
                    x = np.cumsum(
                        np.broadcast_to(minutes[name], x.shape), dtype=float
                    )
                ax.plot(x, values, style, color=color, linewidth=width)
                later.extend(values[1:])
        if curve is _negative_elbo and later:
            low, high = min(later), max(later)
            pad = 0.05 * (high - low) or 1.0
            ax.set_ylim(low - pad, high + pad)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("training minutes" if minutes else "epoch", fontsize=9)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(labelsize=8)
        ax.grid(True, color="#e6e6e6", linewidth=0.6)
    handles = [
        Line2D([], [], color=palette[i % len(palette)], linewidth=2.5)
        for i in range(len(histories))
    ]
    handles += [
        Line2D([], [], color="#555555", linestyle="-", linewidth=1.8),
        Line2D([], [], color="#555555", linestyle="--", linewidth=1.0),
    ]
    figure.legend(
        handles,
        [*histories, "test", "train"],
        loc="upper left",
        bbox_to_anchor=(0.79, 0.9),
        frameon=False,
        fontsize=8,
    )
    figure.subplots_adjust(
        left=0.05, right=0.78, bottom=0.13, top=0.9, wspace=0.22
    )
    return figure


def _names(run_dirs, names):
    if not run_dirs:
        raise RunError(
            "No runs to compare: give at least one run folder (a recipe's "
            "--out)."
        )
    if names is None:
        names = [os.path.basename(os.path.normpath(d)) for d in run_dirs]
        source = "folder names"
        fix = "name them with --names (names= in Python)"
    else:
        names = [str(n) for n in names]
        source = "names"
        fix = "give one distinct name per run"
        if len(names) != len(run_dirs):
            raise RunError(
                f"{len(names)} names for {len(run_dirs)} runs: give one "
                "name per run folder, in the same order."
            )
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise RunError(
            f"The {source} repeat {', '.join(map(repr, repeated))}, so the "
            f"table and legend could not tell those runs apart: {fix}."
        )
    return names


def _read_run(run_dir):
    """`(metrics, history)` of a finished run, or a `RunError` saying
    what is missing."""
    if not os.path.isdir(run_dir):
        raise RunError(
            f"The run folder {run_dir!r} does not exist: give the --out of "
            "a finished run."
        )
    metrics_path = os.path.join(run_dir, "metrics.json")
    history_path = os.path.join(run_dir, "history.csv")
    for path, why in (
        (
            metrics_path,
            "is not a finished run: it has no metrics.json (metrics.json is "
            "written when training and evaluation finish). Wait for the run "
            "to end, or run it again.",
        ),
        (
            history_path,
            "has no history.csv (the losses per epoch that the figure "
            "draws): compare runs written by kvae's recipes.",
        ),
    ):
        if not os.path.isfile(path):
            raise RunError(f"{run_dir!r} {why}")
    try:
        with open(metrics_path, encoding="utf-8") as f:
            metrics = json.load(f)
    except ValueError as error:
        raise RunError(
            f"{metrics_path} is not valid JSON ({error}): run it again."
        ) from None
    missing = [
        k for k in ("negative_elbo", "kl_loss", "config") if k not in metrics
    ]
    if missing:
        raise RunError(
            f"{metrics_path} lacks {', '.join(missing)}: it was not written "
            "by a kvae recipe (kvae.experiment.train_and_evaluate)."
        )
    with open(history_path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    columns = list(rows[0]) if rows else []
    missing = [c for c in _HISTORY_COLUMNS if c not in columns]
    if missing:
        raise RunError(
            f"{history_path} has no {', '.join(missing)} column (or no "
            "epoch at all): compare runs written by kvae's recipes."
        )
    history = {c: [_float(row[c]) for row in rows] for c in columns}
    return metrics, history


def _row(name, run_dir, metrics):
    """One row of the table, from a run's metrics.json."""
    # A field that a run's Config lacked did not exist yet: its default
    # is what the run did.
    config = {field.name: field.default for field in dataclasses.fields(Config)}
    config.update(metrics["config"])
    levels = sorted(
        (int(k.rsplit("_", 1)[1]), v)
        for k, v in metrics.items()
        if k.startswith("kl_loss_") and k.rsplit("_", 1)[1].isdigit()
    )
    fit_s = metrics.get("fit_time_s")
    dataset = metrics.get("dataset", config["dataset"])
    return {
        "name": name,
        "run_dir": os.path.abspath(run_dir),
        "model": _model(config, metrics),
        "prior": _prior(config),
        "objective": _objective(config),
        "epochs": metrics.get("epochs", config["epochs"]),
        "dataset": dataset,
        "test_set": f"{dataset} {metrics.get('test_split', 'n/a')}",
        "test_examples": metrics.get("test_examples"),
        "negative_elbo": metrics["negative_elbo"],
        "kl_loss": metrics["kl_loss"],
        "kl_levels": [v for _, v in levels] or None,
        "iwae_nll": metrics.get("iwae_nll"),
        "iwae_samples": (
            metrics.get("iwae_samples") if "iwae_nll" in metrics else None
        ),
        "iwae_examples": (
            metrics.get("iwae_examples") if "iwae_nll" in metrics else None
        ),
        "fit_min": None if fit_s is None else fit_s / 60.0,
        "epoch_s": metrics.get("epoch_s"),
        "train_img_per_s": metrics.get("train_img_per_s"),
        "backend": metrics.get("backend"),
        "precision": metrics.get("precision"),
    }


def _epoch_minutes(metrics, history):
    """Each epoch's training minutes as the run measured them
    (`epoch_seconds`, validation not counted), or its median `epoch_s`
    for every epoch where a run did not record one time per epoch of its
    history."""
    seconds = metrics.get("epoch_seconds")
    if seconds and len(seconds) == len(history["val_kl_loss"]):
        return [s / 60.0 for s in seconds]
    return metrics["epoch_s"] / 60.0


def _model(config, metrics):
    """ "conv, latent 16", or every group's size, bottom first, for a
    hierarchical model ("hierarchical, latent 392+98")."""
    sizes = metrics.get("level_dims") or [config["latent_dim"]]
    return f"{config['model']}, latent {'+'.join(str(d) for d in sizes)}"


def _prior(config):
    name = config["prior"]
    components = config["prior_components"]
    if components is None:
        parameter = inspect.signature(priors.PRIORS[name]).parameters.get(
            "num_components"
        )
        components = None if parameter is None else parameter.default
    return name if components is None else f"{name} K={components}"


def _objective(config):
    text = config["objective"]
    if text != "elbo" or config["num_samples"] != 1:
        text += f" k={config['num_samples']}"
    if config["beta"] != 1.0:
        text += f", beta {config['beta']:g}"
    if config["free_bits"]:
        text += f", free bits {config['free_bits']:g}"
    return text


def _kl_cell(row):
    """`"17.10 (13.90 + 3.20)"` for a hierarchical run, else the total."""
    total = _format(row["kl_loss"], "{:.2f}")
    if not row["kl_levels"]:
        return total
    levels = " + ".join(_format(v, "{:.2f}") for v in row["kl_levels"])
    return f"{total} ({levels})"


def _format(value, fmt):
    if value is None or not math.isfinite(value):
        return "n/a"
    return fmt.format(value)


def _negative_elbo(history, prefix):
    return np.add(
        history[prefix + "reconstruction_loss"], history[prefix + "kl_loss"]
    )


def _kl(history, prefix):
    return np.asarray(history[prefix + "kl_loss"])


def _float(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return float("nan")
