"""Studies of several runs: a latent-size study (`run_latent_study`) and
one recipe under each backend (`compare_backends`)."""

import dataclasses
import json
import os
import subprocess
import sys
import time

import keras
import numpy as np

from kvae.experiment.preflight import check_before_data
from kvae.experiment.report import check_output
from kvae.experiment.report import markdown_table
from kvae.experiment.report import prepare_output
from kvae.experiment.train import train_and_evaluate
from kvae.utils import BACKENDS
from kvae.utils import atomic_path
from kvae.utils import backend_installed
from kvae.utils import run_with_backend
from kvae.utils import write_json
from kvae.utils import write_text
from kvae.version import __version__

# What a latent-size study writes into its folder, beside latent_<d>/.
_STUDY_FILES = ("summary.md", "comparison.png", "metrics.json")
_SUMMARY_COLUMNS = (
    ("latent_dim", "latent", "{}"),
    ("negative_elbo", "test -ELBO (nats)", "{:.2f}"),
    ("iwae_nll", "IWAE NLL (nats)", "{:.2f}"),
    ("kl_loss", "KL (nats)", "{:.2f}"),
    ("mse", "MSE", "{:.4f}"),
    ("ssim", "SSIM", "{:.3f}"),
    ("psnr", "PSNR (dB)", "{:.2f}"),
    ("train_img_per_s", "train img/s", "{:.0f}"),
    ("wall_time_s", "wall s", "{:.0f}"),
)


def run_latent_study(config):
    """Trains one model per size in `config.latent_dims`.

    Each run writes its files into `<out>/latent_<d>/`; then `<out>` gets
    `summary.md` (a table comparing the sizes), `comparison.png` (test
    -ELBO, MSE, SSIM and PSNR per epoch, one line per size) and
    `metrics.json` (every run's metrics).

    Every size's folder and the study's own files are checked before the
    first run reads any data, as one run's are (`check_before_data`): a
    previous run in the last size's folder stops the study before the
    first size trains, not after.

    Returns:
        list of dicts: each run's metrics.
    """
    out = config.out
    sizes = config.latent_dims or (config.latent_dim,)
    run_configs = [
        dataclasses.replace(
            config,
            latent_dim=latent_dim,
            latent_dims=None,  # each run of the study trains one size
            out=os.path.join(out, f"latent_{latent_dim}"),
        )
        for latent_dim in sizes
    ]
    check_output(out, overwrite=config.overwrite, outputs=_STUDY_FILES)
    for run_config in run_configs:
        check_before_data(run_config)
    runs = [train_and_evaluate(run_config) for run_config in run_configs]
    histories = {m["latent_dim"]: m.pop("history") for m in runs}
    table = markdown_table(runs, _SUMMARY_COLUMNS)
    k = runs[0].get("iwae_samples")
    notes = (
        f"# {config.name}: latent sizes {', '.join(map(str, sizes))}\n\n"
        f"{runs[0]['train_examples']} training images "
        f"({runs[0]['train_split']}), {config.epochs} epochs, batch "
        f"{config.batch_size}; test on {runs[0]['test_examples']} images "
        f"({runs[0]['test_split']}). IWAE NLL with k={k} importance "
        f"samples on {runs[0].get('iwae_examples')} test images drawn at "
        "random. "
        f"Backend {runs[0]['backend']} ({runs[0]['device']}).\n\n"
    )
    summary, comparison, metrics = (os.path.join(out, n) for n in _STUDY_FILES)
    write_text(summary, notes + table + "\n")
    plot_comparison(histories, comparison)
    write_json(
        metrics,
        {"recipe": config.name, "latent_dims": list(sizes), "runs": runs},
    )
    print(f"\nWrote {os.path.abspath(out)}:")
    for d in sizes:
        print(f"  latent_{d}/       the run with latent size {d}")
    print("  summary.md       the table below")
    print("  comparison.png   test -ELBO, MSE, SSIM, PSNR per epoch by size")
    print("  metrics.json     every run's metrics\n")
    print(table)
    return runs


def plot_comparison(histories, path):
    """Train (solid) and test (dashed) curves of each run, by name."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    panels = (
        ("loss", "-ELBO (nats)"),
        ("mse", "MSE"),
        ("ssim", "SSIM"),
        ("psnr", "PSNR (dB)"),
    )
    figure = Figure(figsize=(12.0, 3.4), dpi=100)
    axes = figure.subplots(1, len(panels))
    colors = colormaps["tab10"].colors
    for ax, (key, title) in zip(axes, panels):
        for i, (name, history) in enumerate(histories.items()):
            color = colors[i % len(colors)]
            for prefix, style, label in (
                ("", "-", f"{name} train"),
                ("val_", "--", f"{name} test"),
            ):
                values = history.get(prefix + key)
                if values:
                    epochs = np.arange(1, len(values) + 1)
                    ax.plot(epochs, values, style, color=color, label=label)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("epoch", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.grid(True, color="#e6e6e6", linewidth=0.6)
    axes[0].legend(fontsize=7, frameon=False, title="latent", title_fontsize=7)
    figure.subplots_adjust(
        left=0.05, right=0.99, bottom=0.15, top=0.88, wspace=0.3
    )
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png")


_COMPARISON = (
    ("train_img_per_s", "train img/s", "{:.0f}"),
    ("epoch_s", "epoch s", "{:.2f}"),
    ("negative_elbo", "test -ELBO", "{:.2f}"),
    ("iwae_nll", "IWAE NLL", "{:.2f}"),
    ("ssim", "SSIM", "{:.3f}"),
    ("psnr", "PSNR (dB)", "{:.2f}"),
)


def compare_backends(
    recipe, recipe_args, out, backends=BACKENDS, overwrite=False
):
    """Runs `recipe` under each backend, in a subprocess each, and compares.

    Each run is `python <recipe> <recipe_args> --out <out>/<backend>` with
    `KERAS_BACKEND=<backend>` (see `run_under_backend`). A backend whose
    package is not installed is reported as such, and a run that fails is
    reported with its exit status and log. Then `<out>` gets
    `comparison.md` (a table), `comparison.png` (bar charts) and
    `comparison.json` (see `write_comparison`).

    A folder that holds a previous comparison (any of those files, a
    backend's log or its run folder) is refused before anything runs,
    unless `overwrite` is true: the previous comparison is then deleted
    first, so that a table never mixes two comparisons.

    Args:
        recipe: str. Path of a recipe script.
        recipe_args: list of str. Its flags (not `--out`).
        out: str. Output folder.
        backends: sequence of str.
        overwrite: bool. Delete a previous comparison in `out` first.

    Returns:
        list of dicts, one per backend: `backend`, `status` ("ok", "not
        installed", "failed (exit N), see <log>") and the run's metrics.

    Raises:
        kvae.experiment.errors.RunError: `out` holds a previous comparison
            and `overwrite` is false, or another run is writing it.
    """
    with prepare_output(
        out, overwrite=overwrite, outputs=comparison_files(BACKENDS)
    ):
        rows = [
            run_under_backend(recipe, recipe_args, out, backend)
            for backend in backends
        ]
        name = os.path.basename(recipe)
        write_comparison(
            rows, out, title=name, command=f"{name} {' '.join(recipe_args)}"
        )
    for backend in backends:
        if os.path.isdir(os.path.join(out, backend)):
            print(f"  {backend}/, {backend}.log: that backend's run")
    return rows


def comparison_files(backends):
    """The names `compare_backends` writes into its folder."""
    names = {"comparison.md", "comparison.png", "comparison.json"}
    for backend in backends:
        names |= {backend, f"{backend}.log"}
    return names


def run_under_backend(recipe, recipe_args, out, backend):
    """Runs the recipe script in a subprocess with `KERAS_BACKEND=backend`.

    Its files go to `<out>/<backend>/` and its output to
    `<out>/<backend>.log`. Returns the row of `compare_backends`.
    """
    row = {"backend": backend}
    if not backend_installed(backend):
        row["status"] = "not installed"
        print(f"{backend}: not installed, skipped.")
        return row
    run_out = os.path.join(out, backend)
    log_path = os.path.join(out, f"{backend}.log")
    command = [sys.executable, recipe, *recipe_args, "--out", run_out]
    print(f"{backend}: {' '.join(command)}  (log: {log_path})", flush=True)
    started = time.perf_counter()
    with open(log_path, "w", encoding="utf-8") as log:
        returncode = run_with_backend(
            command, backend, stdout=log, stderr=subprocess.STDOUT
        ).returncode
    row["process_s"] = time.perf_counter() - started
    metrics_path = os.path.join(run_out, "metrics.json")
    if returncode != 0 or not os.path.exists(metrics_path):
        row["status"] = f"failed (exit {returncode}), see {log_path}"
        print(f"{backend}: {row['status']}")
        return row
    with open(metrics_path, encoding="utf-8") as f:
        row.update(json.load(f))
    row["status"] = "ok"
    print(
        f"{backend}: done, {row['train_img_per_s']:.0f} img/s, "
        f"-ELBO {row['negative_elbo']:.2f}"
    )
    return row


def write_comparison(rows, out, title, command=None):
    """Writes comparison.md, comparison.png and comparison.json of `rows`
    (one dict per backend: `backend`, `status` and a run's metrics) into
    `out`, prints the table, and returns it."""
    columns = (("backend", "backend", "{}"),) + _COMPARISON
    columns += (("status", "status", "{}"),)
    ok = [r for r in rows if r.get("status") == "ok"]
    header = f"# {title} under each Keras backend\n\n"
    if command:
        header += f"Command: `{command}`. "
    header += f"kvae {__version__}, keras {keras.__version__}"
    if ok:
        header += (
            f"; {ok[0]['train_examples']} train images, {ok[0]['epochs']} "
            f"epochs, test on {ok[0]['test_examples']} images"
        )
    header += (
        ". img/s and epoch time are medians over the epochs after the "
        "first (which compiles).\n\n"
    )
    table = markdown_table(rows, columns)
    write_text(os.path.join(out, "comparison.md"), header + table + "\n")
    plot_backend_bars(rows, os.path.join(out, "comparison.png"))
    write_json(os.path.join(out, "comparison.json"), rows)
    print(f"\n{table}\n\nWrote {os.path.abspath(out)}:")
    print("  comparison.md    the table above")
    print("  comparison.png   bar charts of the same numbers")
    print("  comparison.json  every backend's metrics")
    return table


def plot_backend_bars(rows, path):
    """One bar chart per number in `_COMPARISON`, one bar per backend."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(12.0, 6.0), dpi=100)
    axes = figure.subplots(2, 3).ravel()
    names = [r["backend"] for r in rows]
    colors = {"tensorflow": "#ff8f00", "jax": "#5e97f6", "torch": "#ee4c2c"}
    for ax, (key, title, fmt) in zip(axes, _COMPARISON):
        values = [r.get(key) for r in rows]
        heights = [v if isinstance(v, (int, float)) else 0.0 for v in values]
        bars = ax.bar(
            names,
            heights,
            color=[colors.get(n, "#888888") for n in names],
        )
        for bar, value, row in zip(bars, values, rows):
            text = (
                fmt.format(value)
                if isinstance(value, (int, float))
                else row["status"].split(",")[0]
            )
            ax.annotate(
                text,
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize=8,
            )
        ax.set_title(title, fontsize=10)
        ax.tick_params(labelsize=8)
        ax.margins(y=0.15)
    figure.subplots_adjust(
        left=0.06, right=0.98, bottom=0.06, top=0.93, hspace=0.35
    )
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png")
