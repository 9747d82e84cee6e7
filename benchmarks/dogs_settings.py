"""Short Stanford Dogs runs that choose the dogs recipe's defaults.

Trains the recipe's residual VAE (latent 256, batch 32, AdamW 5e-4 / weight
decay 1e-5, cosine decay to 1e-6 over the run, global clipnorm 1.0) on the
12,000 training images of an extracted Stanford Dogs tree, and measures the
test reconstructions of the first `--test-examples` test images (a fixed,
breed-mixed order): MSE, PSNR, SSIM, and the Gaussian -ELBO in bits per
dimension. Each setting is one line of `--runs`:

    sigma=0.1 sigma=learned sigma=optimal     same number of steps
    filters=16-32-64-128 filters=32-64-128-256    --wall-seconds each

A run trains `--steps` steps, or, with `--wall-seconds`, as many steps as
fit in that time (estimated from a short timed probe, so the cosine
schedule still ends at the last step). `policy=mixed_bfloat16` sets the
Keras dtype policy. Every figure is printed with the 1-minute load average
of the machine before and after its run (other jobs share the CPU).

    python benchmarks/dogs_settings.py \\
        --manual-dir ../shared/data/stanford_dogs --steps 300 \\
        --runs sigma=0.1 sigma=learned sigma=optimal
"""

import argparse
import json
import math
import os
import sys
import time

import keras
import numpy as np
from keras import ops

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get(
    "KVAE_SHARED_DATA", os.path.join(os.path.dirname(REPO), "shared", "data")
)
DEFAULTS = {
    "sigma": "optimal",
    "filters": "32-64-128-256",
    "policy": "float32",
    "latent_dim": "256",
}
PROBE_STEPS = 10


def parse_run(text):
    """ "sigma=0.1,filters=16-32-64-128" -> a full settings dict."""
    settings = dict(DEFAULTS)
    for item in filter(None, text.split(",")):
        key, _, value = item.partition("=")
        if key not in DEFAULTS:
            raise SystemExit(f"unknown setting {key!r} in {text!r}")
        settings[key] = value
    return settings


def _sigma(text):
    return text if text in ("learned", "optimal") else float(text)


def build_model(settings):
    import kvae

    filters = tuple(int(f) for f in settings["filters"].split("-"))
    latent = int(settings["latent_dim"])
    return kvae.VAE(
        kvae.layers.ResidualEncoder(latent, filters=filters),
        kvae.layers.ResidualDecoder((64, 64, 3), filters=filters[::-1]),
        likelihood="gaussian",
        sigma=_sigma(settings["sigma"]),
        image_metrics_batch=8,
        seed=0,
    )


def compile_model(model, steps):
    schedule = keras.optimizers.schedules.CosineDecay(
        5e-4, decay_steps=max(1, steps), alpha=1e-6 / 5e-4
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(
            schedule, weight_decay=1e-5, global_clipnorm=1.0
        )
    )


class StepTimer(keras.callbacks.Callback):
    """Wall time of each training batch."""

    def on_train_begin(self, logs=None):
        self.times = []

    def on_train_batch_begin(self, batch, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter() - self._start)


def test_figures(model, x_test):
    from kvae import evaluation

    recon = np.concatenate(
        [
            ops.convert_to_numpy(model.reconstruct(x_test[i : i + 100]))
            for i in range(0, len(x_test), 100)
        ]
    )
    recon = np.clip(recon, 0.0, 1.0)
    mse = float(np.mean((recon - x_test) ** 2))
    ssim = float(
        np.mean(
            ops.convert_to_numpy(
                ops.image.ssim(
                    ops.convert_to_tensor(x_test),
                    ops.convert_to_tensor(recon),
                    max_val=1.0,
                )
            )
        )
    )
    psnr = float(
        np.mean(
            [
                ops.convert_to_numpy(ops.psnr(x[None], r[None], max_val=1.0))
                for x, r in zip(x_test, recon)
            ]
        )
    )
    logs = evaluation.evaluate_logs(model, x_test, batch_size=100)
    pixels = math.prod(x_test.shape[1:])
    nelbo = logs["reconstruction_loss"] + logs["kl_loss"]
    bits = (nelbo + pixels * math.log(255.0)) / (pixels * math.log(2.0))
    return {
        "mse": mse,
        "psnr": psnr,
        "ssim": ssim,
        "nelbo_bits_per_dim": bits,
        "kl": logs["kl_loss"],
        "eval_sigma": logs.get("sigma"),
    }


def one_run(settings, args, train, x_test):
    keras.utils.clear_session()
    keras.config.set_dtype_policy(settings["policy"])
    load_before = os.getloadavg()[0]
    steps = args.steps
    if args.wall_seconds:
        probe = build_model(settings)
        compile_model(probe, 1000)
        timer = StepTimer()
        probe.fit(
            train, steps_per_epoch=PROBE_STEPS + 1, callbacks=[timer], verbose=0
        )
        step_s = sorted(timer.times[1:])[len(timer.times[1:]) // 2]
        steps = max(10, int(args.wall_seconds / step_s))
        keras.utils.clear_session()
    model = build_model(settings)
    compile_model(model, steps)
    timer = StepTimer()
    start = time.perf_counter()
    history = model.fit(
        train, steps_per_epoch=steps, epochs=1, callbacks=[timer], verbose=0
    )
    wall = time.perf_counter() - start
    timed = timer.times[1:] or timer.times
    result = {
        **settings,
        "steps": steps,
        "train_s": wall,
        "img_per_s": args.batch_size * len(timed) / sum(timed),
        "train_loss": history.history["loss"][-1],
        "train_sigma": history.history.get("sigma", [None])[-1],
        "params": model.count_params(),
        **test_figures(model, x_test),
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
    }
    keras.config.set_dtype_policy("float32")
    return result


def table(results):
    columns = [
        ("sigma", "{}"),
        ("filters", "{}"),
        ("policy", "{}"),
        ("steps", "{}"),
        ("train_s", "{:.0f}"),
        ("img_per_s", "{:.1f}"),
        ("psnr", "{:.2f}"),
        ("ssim", "{:.3f}"),
        ("mse", "{:.4f}"),
        ("nelbo_bits_per_dim", "{:.3f}"),
        ("kl", "{:.0f}"),
        ("eval_sigma", "{:.3f}"),
        ("load_before", "{:.1f}"),
        ("load_after", "{:.1f}"),
    ]
    lines = [
        "| " + " | ".join(name for name, _ in columns) + " |",
        "|" + "---|" * len(columns),
    ]
    for r in results:
        cells = [
            "-" if r.get(name) is None else fmt.format(r[name])
            for name, fmt in columns
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--manual-dir", default=os.path.join(SHARED, "stanford_dogs")
    )
    parser.add_argument("--runs", nargs="+", default=["sigma=optimal"])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--wall-seconds", type=float, default=None)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--test-examples", type=int, default=500)
    parser.add_argument("--json", default=None, help="append results here")
    args = parser.parse_args(argv)
    sys.path.insert(0, REPO)
    import kvae

    train = kvae.datasets.load(
        "stanford_dogs",
        "train",
        batch_size=args.batch_size,
        manual_dir=args.manual_dir,
        seed=0,
    ).repeat()
    test = kvae.datasets.load(
        "stanford_dogs",
        f"test[:{args.test_examples}]",
        batch_size=250,
        manual_dir=args.manual_dir,
    )
    x_test = np.concatenate(list(test.as_numpy_iterator()))
    print(
        f"backend {keras.backend.backend()}, {len(x_test)} test images, "
        f"{os.cpu_count()} cores",
        flush=True,
    )
    results = []
    for text in args.runs:
        result = one_run(parse_run(text), args, train, x_test)
        results.append(result)
        print(json.dumps(result), flush=True)
        if args.json:
            with open(args.json, "a", encoding="utf-8") as f:
                f.write(json.dumps(result) + "\n")
    print(table(results))
    return results


if __name__ == "__main__":
    main()
