"""What kvae's callbacks and image metrics add to training time on MNIST.

1. Callbacks: the same model trains with and without the five callbacks of
   `kvae.callbacks` at their default settings (validation images and labels
   from the MNIST test set). Besides the epoch times of both runs, each
   callback's hooks are timed directly, which is the precise figure: on a
   shared machine the noise between two runs is larger than the effect.
   Epochs are training only (no validation pass), which makes the epoch
   shorter and the overhead ratio larger than in real use.
2. Image metrics: `kvae.VAE(image_metrics=True)` (MSE, SSIM and PSNR of the
   mean reconstruction in every train step) against `image_metrics=False`,
   as time per training step, the two models training in alternation.

Each backend runs in its own process:

    python benchmarks/callback_overhead.py
    python benchmarks/callback_overhead.py --backends jax --steps-per-epoch 50
    python benchmarks/callback_overhead.py --only metrics --metric-rounds 8

Results go to the section "Callback and metric overhead" of
docs/BENCHMARKS.md (unless --no-write); --save-json keeps the raw figures
and --report-from writes the section again from them.
"""

import argparse
import gzip
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

from kvae.utils import run_with_backend

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECTION = "Callback and metric overhead"
FULL_EPOCH = 469  # ceil(60000 / 128)


def _mnist(data_dir, split):
    import numpy as np

    prefix = "train" if split == "train" else "t10k"
    path = os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz")
    with gzip.open(path) as f:
        images = np.frombuffer(f.read(), "uint8", offset=16)
    path = os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz")
    with gzip.open(path) as f:
        labels = np.frombuffer(f.read(), "uint8", offset=8)
    images = images.reshape(-1, 28, 28, 1).astype("float32") / 255.0
    return images, labels


def _model(latent_dim, image_metrics=True):
    import kvae

    model = kvae.VAE(
        kvae.layers.ConvEncoder(latent_dim),
        kvae.layers.ConvDecoder(output_shape=(28, 28, 1)),
        image_metrics=image_metrics,
        seed=0,
    )
    model.compile(optimizer="adam")
    return model


def _timers():
    import keras

    class EpochTimer(keras.callbacks.Callback):
        """Wall time of each epoch (epoch hooks only, so Keras may still
        dispatch batch callbacks asynchronously)."""

        def __init__(self):
            super().__init__()
            self.times = []

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self._start)

    class Timed(keras.callbacks.Callback):
        """Forwards the epoch and train hooks to `inner`, timing them."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner
            self.epoch_seconds = []
            self.end_seconds = 0.0

        def set_model(self, model):
            super().set_model(model)
            self.inner.set_model(model)

        def set_params(self, params):
            super().set_params(params)
            self.inner.set_params(params)

        def on_train_begin(self, logs=None):
            self.inner.on_train_begin(logs)

        def on_epoch_begin(self, epoch, logs=None):
            self.inner.on_epoch_begin(epoch, logs)

        def on_epoch_end(self, epoch, logs=None):
            start = time.perf_counter()
            self.inner.on_epoch_end(epoch, logs)
            self.epoch_seconds.append(time.perf_counter() - start)

        def on_train_end(self, logs=None):
            start = time.perf_counter()
            self.inner.on_train_end(logs)
            self.end_seconds = time.perf_counter() - start

    return EpochTimer, Timed


def _measure_metrics(args, x_train, result):
    # One short epoch each in alternation, so that both models see the same
    # load on the machine; the first round (tracing, compilation) is left
    # out.
    models = {False: _model(args.latent_dim, False)}
    models[True] = _model(args.latent_dim, True)
    step_times = {False: [], True: []}
    for _ in range(args.metric_rounds + 1):
        for image_metrics, model in models.items():
            start = time.perf_counter()
            model.fit(
                x_train,
                epochs=1,
                batch_size=args.batch_size,
                steps_per_epoch=args.metric_steps,
                verbose=0,
            )
            step_times[image_metrics].append(
                (time.perf_counter() - start) / args.metric_steps
            )
    result["step_without_metrics"] = step_times[False][1:]
    result["step_with_metrics"] = step_times[True][1:]


def _measure_callbacks(args, x_train, result):
    import keras

    import kvae
    import kvae.callbacks  # noqa: F401 (until kvae re-exports callbacks)

    EpochTimer, Timed = _timers()
    x_test, y_test = _mnist(args.data_dir, "test")
    fit_kwargs = dict(
        batch_size=args.batch_size,
        steps_per_epoch=args.steps_per_epoch,
        verbose=0,
    )
    output_dir = tempfile.mkdtemp(prefix="kvae_callback_overhead_")
    try:
        keras.utils.clear_session()
        plain = EpochTimer()
        _model(args.latent_dim).fit(
            x_train, epochs=args.epochs, callbacks=[plain], **fit_kwargs
        )
        keras.utils.clear_session()
        callbacks = [
            kvae.callbacks.ReconstructionGIF(x_test, output_dir),
            kvae.callbacks.SampleGIF(output_dir),
            kvae.callbacks.LatentSpaceGIF(x_test, y_test, output_dir),
            kvae.callbacks.InterpolationGIF(x_test, output_dir),
            kvae.callbacks.MetricsPlot(output_dir),
        ]
        timed = [Timed(c) for c in callbacks]
        with_callbacks = EpochTimer()
        _model(args.latent_dim).fit(
            x_train,
            epochs=args.epochs,
            callbacks=[with_callbacks] + timed,
            **fit_kwargs,
        )
        result["epoch_without"] = plain.times
        result["epoch_with"] = with_callbacks.times
        result["callbacks"] = {
            type(t.inner).__name__: {
                "epoch_seconds": t.epoch_seconds,
                "end_seconds": t.end_seconds,
            }
            for t in timed
        }
        result["files"] = {
            name: os.path.getsize(os.path.join(output_dir, name))
            for name in sorted(os.listdir(output_dir))
        }
    finally:
        shutil.rmtree(output_dir, ignore_errors=True)


def worker(args):
    """Runs in a process whose KERAS_BACKEND is set; prints JSON."""
    import keras

    x_train, _ = _mnist(args.data_dir, "train")
    result = {
        "backend": keras.backend.backend(),
        "load": [os.getloadavg()[0]],
        "args": vars(args),
    }
    if args.only != "callbacks":
        _measure_metrics(args, x_train, result)
    if args.only != "metrics":
        keras.utils.clear_session()
        _measure_callbacks(args, x_train, result)
    result["load"].append(os.getloadavg()[0])
    print("RESULT " + json.dumps(result), flush=True)


def _median_after_first(values):
    return statistics.median(values[1:] if len(values) > 1 else values)


def _load_note(results):
    return (
        "One-minute load average at the start and end of each backend's "
        "runs: "
        + ", ".join(
            f"{r['backend']} {r['load'][0]:.1f}/{r['load'][-1]:.1f}"
            for r in results
        )
        + f" ({os.cpu_count()} cores); other work on the machine slows "
        "training and callbacks alike, so compare ratios."
    )


def _callback_report(results, args):
    epochs_note = (
        "full epochs of 469 steps"
        if args.steps_per_epoch == FULL_EPOCH
        else f"epochs of {args.steps_per_epoch} steps"
    )
    lines = [
        "### Callbacks at their default settings",
        "",
        f"Conv VAE (`ConvEncoder({args.latent_dim})`, `ConvDecoder()`), "
        f"MNIST train set, batch {args.batch_size}, {epochs_note}, "
        f"{args.epochs} epochs per run; medians leave out the first epoch "
        "(tracing, compilation, first frames). All five callbacks "
        "together: `ReconstructionGIF`, `SampleGIF`, `LatentSpaceGIF` "
        "(2000 test digits), `InterpolationGIF` (drawn once, at the end) "
        "and `MetricsPlot`. *Callbacks per epoch* is the time spent in "
        "their hooks, measured directly; *overhead* is that time over the "
        "epoch time without callbacks, scaled to a full MNIST epoch of 469 "
        "steps. *A/B* compares the epoch times of the two runs; on a busy "
        "machine it is noisier than the effect.",
        "",
        "| backend | epoch, no callbacks (s) | epoch, callbacks (s) | "
        "callbacks per epoch (s) | once at the end (s) | overhead per full "
        "epoch | A/B |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        without = _median_after_first(r["epoch_without"])
        with_ = _median_after_first(r["epoch_with"])
        per_epoch = _median_after_first(
            [
                sum(values)
                for values in zip(
                    *[c["epoch_seconds"] for c in r["callbacks"].values()]
                )
            ]
        )
        at_end = sum(c["end_seconds"] for c in r["callbacks"].values())
        full_epoch = without * FULL_EPOCH / args.steps_per_epoch
        lines.append(
            f"| {r['backend']} | {without:.1f} | {with_:.1f} | "
            f"{per_epoch:.2f} | {at_end:.2f} | "
            f"{100 * per_epoch / full_epoch:.1f}% | "
            f"{100 * (with_ / without - 1):+.1f}% |"
        )
    names = list(results[0]["callbacks"])
    lines += [
        "",
        "Per callback, seconds per epoch (median after the first epoch; "
        "the first epoch, with its tracing, in brackets):",
        "",
        "| backend | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for r in results:
        cells = []
        for c in r["callbacks"].values():
            seconds = c["epoch_seconds"]
            if max(seconds) > 1e-3:
                cells.append(
                    f"{_median_after_first(seconds):.3f} ({seconds[0]:.2f})"
                )
            else:
                cells.append(f"at the end: {c['end_seconds']:.2f}")
        lines.append(f"| {r['backend']} | " + " | ".join(cells) + " |")
    files = results[-1]["files"]
    lines += [
        "",
        f"Files after {args.epochs} epochs ({results[-1]['backend']}): "
        + ", ".join(f"`{n}` {s / 1024:.0f} KiB" for n, s in files.items())
        + ".",
    ]
    return lines


def _metrics_report(results, args):
    lines = [
        "### Image metrics (MSE, SSIM, PSNR of the mean reconstruction)",
        "",
        f"Time per training step, batch {args.batch_size}, of the same conv "
        f"VAE (`ConvEncoder({args.latent_dim})`, `ConvDecoder()`) with "
        "`image_metrics=True` and `False`: median over "
        f"{args.metric_rounds} rounds of {args.metric_steps} steps, the two "
        "models training in alternation (after one round of tracing).",
        "",
        "| backend | `image_metrics=False` (ms) | `image_metrics=True` (ms) "
        "| cost |",
        "|---|---:|---:|---:|",
    ]
    for r in results:
        off = statistics.median(r["step_without_metrics"])
        on = statistics.median(r["step_with_metrics"])
        lines.append(
            f"| {r['backend']} | {1000 * off:.0f} | {1000 * on:.0f} | "
            f"{100 * (on / off - 1):+.1f}% |"
        )
    return lines


def report(results, args):
    lines = [_load_note(results), ""]
    with_callbacks = [r for r in results if "callbacks" in r]
    with_metrics = [r for r in results if "step_with_metrics" in r]
    if with_callbacks:
        lines += _callback_report(with_callbacks, args) + [""]
    if with_metrics:
        lines += _metrics_report(with_metrics, args)
    return "\n".join(lines)


def _run(backend):
    command = [sys.executable, os.path.abspath(__file__), "--worker"]
    skip = {"--no-write"}
    argv = sys.argv[1:]
    i = 0
    while i < len(argv):  # drop the parent's own options
        if argv[i] in ("--save-json", "--backends"):
            i += 1
            while i < len(argv) and not argv[i].startswith("--"):
                i += 1
            continue
        if argv[i] not in skip:
            command.append(argv[i])
        i += 1
    env = {
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    output = run_with_backend(
        command, backend, env=env, capture_output=True, text=True
    )
    lines = [
        line
        for line in output.stdout.splitlines()
        if line.startswith("RESULT ")
    ]
    if output.returncode != 0 or not lines:
        print(output.stdout[-3000:], output.stderr[-3000:])
        raise SystemExit(f"[{backend}] failed")
    return json.loads(lines[-1][len("RESULT ") :])


def _command():
    """The command line that reproduces the measurement (without the
    options that only say where results go)."""
    argv, words = sys.argv[1:], ["python", "benchmarks/callback_overhead.py"]
    i = 0
    while i < len(argv):
        if argv[i] == "--save-json":
            i += 2
            continue
        if argv[i] != "--no-write":
            words.append(argv[i])
        i += 1
    return " ".join(words)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--backends", nargs="+", default=["tensorflow", "jax", "torch"]
    )
    parser.add_argument(
        "--data-dir",
        default=os.environ.get(
            "KVAE_MNIST_DIR",
            os.path.join(os.path.dirname(ROOT), "shared", "data", "mnist"),
        ),
    )
    parser.add_argument("--latent-dim", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument(
        "--steps-per-epoch",
        type=int,
        default=FULL_EPOCH,
        help="steps per epoch of the callback runs (469: all of MNIST)",
    )
    parser.add_argument("--metric-steps", type=int, default=20)
    parser.add_argument("--metric-rounds", type=int, default=4)
    parser.add_argument(
        "--only", choices=("callbacks", "metrics"), help="run one part"
    )
    parser.add_argument("--save-json", help="keep the raw results here")
    parser.add_argument(
        "--report-from", help="write the section from saved results"
    )
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return

    command = None
    if args.report_from:
        with open(args.report_from) as f:
            saved = json.load(f)
        results, command = saved["results"], saved["command"]
        measured = dict(saved["args"], no_write=args.no_write)
        args = argparse.Namespace(**dict(vars(args), **measured))
    else:
        results = []
        for backend in args.backends:
            print(f"[{backend}] running...", flush=True)
            results.append(_run(backend))
            print(json.dumps(results[-1]), flush=True)
        if args.save_json:
            with open(args.save_json, "w") as f:
                json.dump(
                    {
                        "command": _command(),
                        "args": {
                            k: v
                            for k, v in vars(args).items()
                            if k not in ("report_from", "save_json", "no_write")
                        },
                        "results": results,
                    },
                    f,
                    indent=1,
                )

    body = report(results, args)
    print(body)
    if not args.no_write:
        sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
        from report import update_section

        update_section(SECTION, body, command=command or _command())


if __name__ == "__main__":
    main()
