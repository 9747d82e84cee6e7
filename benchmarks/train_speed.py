"""Training throughput (img/s) of kvae models on each Keras backend.

One command gives three tables, written to `docs/BENCHMARKS.md` with the
machine, the load and the commit:

1. per backend: kvae's img/s (image metrics on and off) and the ratio to
   TensorFlow;
2. precision: `float32` against `mixed_bfloat16` for every model, and, with
   `--quality-steps`, the test ELBO, SSIM and PSNR of the conv VAE after the
   same number of steps on MNIST under both policies;
3. peers: kvae on each backend against what users would write instead, the
   keras.io-style TensorFlow `train_step` and a plain PyTorch loop in the
   style of pytorch/examples (`benchmarks/torch_loop.py`; eager, and
   `torch.compile` with `--torch-compile`).

Each backend runs in its own subprocess (`KERAS_BACKEND` is fixed at
import); `--rounds` repeats the three subprocesses in turn. Inside a process
every variant is built and warmed up first (one epoch: tracing and
compilation), then the variants train one timed epoch each, in turn, for
`--epochs` turns; the figure is the median. Ratios within a process are
therefore measured under the same load; ratios across backends are not, so
the 1-minute load average is recorded before and after each process.

    python benchmarks/train_speed.py                   # the CPU report
    python benchmarks/train_speed.py --models conv_pixel_shuffle --epochs 4
    python benchmarks/train_speed.py --models hierarchical_28 \
        --title "Training throughput (CPU): the hierarchical MNIST model"
    python benchmarks/train_speed.py --backends torch --precisions float32 \
        --models hierarchical_28 hierarchical_28_gelu --no-write
    python benchmarks/train_speed.py --backends jax torch --batch-size 1024
"""

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import time

from kvae.utils import run_with_backend

MODELS = {
    # name: (image shape, upsampling)
    "conv_pixel_shuffle": ((28, 28, 1), "pixel_shuffle"),
    "conv_nearest": ((28, 28, 1), "nearest"),
    "conv_transpose": ((28, 28, 1), "transpose"),
    "residual_64": ((64, 64, 3), "pixel_shuffle"),
    # The likelihood recipe's HierarchicalVAE, as `recipes/likelihood.py`
    # builds it by default (its upsampling is fixed by the model).
    "hierarchical_28": ((28, 28, 1), None),
    # The same with GELU in its blocks (`--block-activation gelu`).
    "hierarchical_28_gelu": ((28, 28, 1), None),
}
DEFAULT_MODELS = ("conv_pixel_shuffle", "residual_64")
# The models issue 25 sets ratio targets for.
TARGET_MODELS = ("conv_pixel_shuffle", "residual_64")
BACKENDS = ("tensorflow", "jax", "torch")
PRECISIONS = ("float32", "mixed_bfloat16")
KVAE = "kvae"
KERAS_IO = "keras.io train_step (TF)"
TORCH_EAGER = "plain PyTorch loop"
TORCH_COMPILED = "plain PyTorch loop, torch.compile"


def build_kvae(name, latent_dim):
    import kvae

    shape, upsampling = MODELS[name]
    if name.startswith("hierarchical"):
        from kvae.experiment.train import build_model
        from kvae.recipes.likelihood import CONFIG

        config = CONFIG
        if name.endswith("_gelu"):
            config = dataclasses.replace(CONFIG, block_activation="gelu")
        return build_model(config, shape)
    if name.startswith("conv"):
        encoder = kvae.layers.ConvEncoder(latent_dim)
        decoder = kvae.layers.ConvDecoder(shape, upsampling=upsampling)
        likelihood = "bernoulli"
    else:
        encoder = kvae.layers.ResidualEncoder(latent_dim)
        decoder = kvae.layers.ResidualDecoder(shape, upsampling=upsampling)
        likelihood = "gaussian"
    sigma = "optimal" if likelihood == "gaussian" else 1.0
    return kvae.VAE(
        encoder, decoder, likelihood=likelihood, sigma=sigma, seed=0
    )


def build_keras_io_baseline(name, latent_dim):
    """The keras.io VAE example's `train_step`, around the same layers."""
    import keras
    import tensorflow as tf
    from keras import ops

    import kvae

    shape, upsampling = MODELS[name]
    encoder = kvae.layers.ConvEncoder(latent_dim)
    decoder = kvae.layers.ConvDecoder(shape, upsampling=upsampling)

    class Sampling(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.seed_generator = keras.random.SeedGenerator(1337)

        def call(self, inputs):
            z_mean, z_log_var = inputs
            epsilon = keras.random.normal(
                ops.shape(z_mean), seed=self.seed_generator
            )
            return z_mean + ops.exp(0.5 * z_log_var) * epsilon

    class KerasIOVAE(keras.Model):
        def __init__(self, encoder, decoder, **kwargs):
            super().__init__(**kwargs)
            self.encoder = encoder
            self.decoder = decoder
            self.sampling = Sampling()
            self.total_loss_tracker = keras.metrics.Mean(name="total_loss")

        def train_step(self, data):
            with tf.GradientTape() as tape:
                z_mean, z_log_var = self.encoder(data)
                z = self.sampling([z_mean, z_log_var])
                logits = self.decoder(z)
                reconstruction_loss = ops.mean(
                    ops.sum(
                        keras.losses.binary_crossentropy(
                            data, logits, from_logits=True
                        ),
                        axis=(1, 2),
                    )
                )
                kl_loss = -0.5 * (
                    1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var)
                )
                kl_loss = ops.mean(ops.sum(kl_loss, axis=1))
                total_loss = reconstruction_loss + kl_loss
            grads = tape.gradient(total_loss, self.trainable_weights)
            self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
            self.total_loss_tracker.update_state(total_loss)
            return {"loss": self.total_loss_tracker.result()}

    model = KerasIOVAE(encoder, decoder)
    model.build((None,) + shape)
    model.encoder(ops.zeros((1,) + shape))
    model.decoder(ops.zeros((1, latent_dim)))
    return model


def _small_images(name):
    """Whether `name` trains on 28x28 images with `--batch-size` and
    `--steps` (the conv and hierarchical models), not `--res-batch`."""
    return MODELS[name][0][0] == 28


def _data(shape, batch_size, steps):
    import numpy as np

    rng = np.random.default_rng(0)
    return (rng.random((batch_size * steps,) + shape) < 0.3).astype("float32")


class KerasRun:
    """One Keras model trained an epoch at a time on fixed data."""

    def __init__(self, model, x, batch_size):
        self.model, self.x, self.batch_size = model, x, batch_size
        model.compile(optimizer="adam")

    def epoch(self):
        self.model.fit(
            self.x,
            epochs=1,
            batch_size=self.batch_size,
            shuffle=False,
            verbose=0,
        )


def _with_policy(precision, build):
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        return build()
    finally:
        keras.config.set_dtype_policy(previous)


def _runs(args, backend):
    """[(description dict, object with .epoch())] for this backend."""
    runs = []
    for name in args.models:
        shape = MODELS[name][0]
        small = _small_images(name)
        batch = args.batch_size if small else args.res_batch
        steps = args.steps if small else args.res_steps
        latent_dim = args.latent_dim if small else args.res_latent_dim
        x = _data(shape, batch, steps)
        for precision in args.precisions:
            # Other precisions are timed like the peers: metrics off.
            for metrics in (
                (True, False) if precision == "float32" else (False,)
            ):

                def build(name=name, metrics=metrics, latent_dim=latent_dim):
                    model = build_kvae(name, latent_dim)
                    model.image_metrics = metrics
                    if not metrics:
                        model.image_trackers = []
                    return model

                model = _with_policy(precision, build)
                runs.append(
                    (
                        dict(
                            model=name,
                            variant=KVAE,
                            precision=precision,
                            image_metrics=metrics,
                            batch=batch,
                            images=len(x),
                        ),
                        KerasRun(model, x, batch),
                    )
                )
        if not name.startswith("conv"):
            continue
        peers = []
        if backend == "tensorflow":
            peers.append(
                (
                    KERAS_IO,
                    KerasRun(
                        build_keras_io_baseline(name, args.latent_dim),
                        x,
                        batch,
                    ),
                )
            )
        if backend == "torch" and name == "conv_pixel_shuffle":
            sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
            from torch_loop import PlainTorchVAE

            peers.append((TORCH_EAGER, PlainTorchVAE(x, batch)))
            if args.torch_compile:
                peers.append(
                    (TORCH_COMPILED, PlainTorchVAE(x, batch, compile=True))
                )
        for variant, run in peers:
            runs.append(
                (
                    dict(
                        model=name,
                        variant=variant,
                        precision="float32",
                        image_metrics=False,
                        batch=batch,
                        images=len(x),
                    ),
                    run,
                )
            )
    return runs


def _sync():
    import keras

    if keras.backend.backend() == "jax":
        import jax

        jax.effects_barrier()


def quality(args):
    """Test ELBO, SSIM and PSNR of the conv VAE after `quality_steps` steps
    on MNIST under each precision, from the same initial weights."""
    import keras

    import kvae

    def images(kind):
        path = os.path.join(args.mnist_dir, f"{kind}-images-idx3-ubyte.gz")
        return kvae.datasets.read_idx(path)[..., None].astype("float32") / 255

    n = args.quality_steps * args.batch_size
    x_train, x_test = images("train")[:n], images("t10k")[:2000]
    rows = []
    for precision in args.precisions:
        keras.utils.set_random_seed(0)
        model = _with_policy(
            precision, lambda: build_kvae("conv_pixel_shuffle", args.latent_dim)
        )
        model.compile(optimizer="adam")
        history = model.fit(
            x_train, epochs=1, batch_size=args.batch_size, verbose=0
        ).history
        logs = model.evaluate(
            x_test, batch_size=500, verbose=0, return_dict=True
        )
        rows.append(
            dict(
                precision=precision,
                steps=args.quality_steps,
                train_loss=float(history["loss"][-1]),
                test_loss=float(logs["loss"]),
                ssim=float(logs["ssim"]),
                psnr=float(logs["psnr"]),
            )
        )
    return rows


def worker(args):
    import keras

    backend = keras.backend.backend()
    if backend == "torch" and args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    load_before = os.getloadavg()[0]
    runs = _runs(args, backend)
    for _, run in runs:  # tracing, compilation
        run.epoch()
    _sync()
    times = [[] for _ in runs]
    for _ in range(args.epochs):
        for i, (_, run) in enumerate(runs):
            start = time.perf_counter()
            run.epoch()
            _sync()
            times[i].append(time.perf_counter() - start)
    results = []
    for (info, _), durations in zip(runs, times):
        epoch_s = statistics.median(durations)
        info.update(
            backend=backend,
            img_per_s=info["images"] / epoch_s,
            epoch_s=epoch_s,
        )
        results.append(info)
        print(json.dumps(info), file=sys.stderr)
    out = {
        "backend": backend,
        "device": _device(),
        "results": results,
        "load": [load_before, os.getloadavg()[0]],
    }
    if args.quality_steps:
        out["quality"] = quality(args)
    from kvae.precision import resolve_policy

    out["auto_policy"] = resolve_policy("auto")[0]
    print("RESULTS " + json.dumps(out))


def _device():
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return str(jax.devices()[0].device_kind)
    if backend == "torch":
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0)
        return f"CPU, {torch.get_num_threads()} torch threads"
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return gpus[0].name if gpus else "CPU"


_FORWARD = (
    "models",
    "precisions",
    "epochs",
    "steps",
    "batch_size",
    "res_batch",
    "res_steps",
    "latent_dim",
    "res_latent_dim",
    "torch_threads",
    "quality_steps",
    "mnist_dir",
)


def run_backend(backend, args):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker"]
    for name in _FORWARD:
        value = getattr(args, name)
        if value is None:
            continue
        flag = "--" + name.replace("_", "-")
        cmd += (
            [flag, *map(str, value)]
            if isinstance(value, list)
            else [
                flag,
                str(value),
            ]
        )
    if args.torch_compile:
        cmd.append("--torch-compile")
    try:
        proc = run_with_backend(
            cmd,
            backend,
            capture_output=True,
            text=True,
            timeout=args.worker_timeout,
        )
    except subprocess.TimeoutExpired:
        return {
            "backend": backend,
            "error": f"stopped after --worker-timeout {args.worker_timeout} s",
        }
    for line in proc.stdout.splitlines():
        if line.startswith("RESULTS "):
            return json.loads(line[len("RESULTS ") :])
    print(proc.stderr[-3000:], file=sys.stderr)
    return {"backend": backend, "error": proc.stderr.strip()[-300:]}


def _merge(outs):
    """Rounds of the same backend merged: the median of their img/s."""
    merged = {}
    for out in outs:
        if "error" in out:
            merged.setdefault(out["backend"], out)
            continue
        entry = merged.setdefault(
            out["backend"],
            {k: v for k, v in out.items() if k != "results"} | {"runs": {}},
        )
        if "runs" not in entry:
            continue
        entry.setdefault("loads", []).append(out["load"])
        for r in out["results"]:
            key = (r["model"], r["variant"], r["precision"], r["image_metrics"])
            entry["runs"].setdefault(key, []).append(r)
    for entry in merged.values():
        for key, rs in entry.get("runs", {}).items():
            rate = statistics.median(r["img_per_s"] for r in rs)
            entry["runs"][key] = dict(rs[0], img_per_s=rate)
    return merged


def to_markdown(merged, args):
    def rate(backend, model, variant=KVAE, precision="float32", metrics=True):
        r = (
            merged.get(backend, {})
            .get("runs", {})
            .get((model, variant, precision, metrics))
        )
        return r["img_per_s"] if r else None

    backends = [b for b in args.backends if b in merged]
    loads = ", ".join(
        f"{b} "
        + "; ".join(f"{a:.1f}/{z:.1f}" for a, z in merged[b].get("loads", []))
        for b in backends
    )
    devices = ", ".join(
        f"{b}: {merged[b].get('device', '?')}" for b in backends
    )
    lines = [
        f"28x28 models: batch {args.batch_size}, {args.steps} steps per epoch; "
        f"residual_64 (latent {args.res_latent_dim}): batch {args.res_batch}, "
        f"{args.res_steps} steps per "
        f"epoch. Median of {args.epochs} timed epochs per variant (after a "
        "warm-up epoch), the variants of a backend timed in turn in one "
        f"process; {args.rounds} process(es) per backend. Devices: "
        f"{devices}. 1-minute load average before/after each process "
        f"({os.cpu_count()} cores): {loads}. Other work on the machine "
        "depresses and scatters the absolute figures; compare ratios.",
        "",
    ]
    for b in backends:
        if "error" in merged[b]:
            lines.append(f"- {b} failed: {merged[b]['error']}")
    lines += [
        "### Per backend (float32)",
        "",
        "| model | backend | img/s, metrics on | img/s, metrics off "
        "| vs. tensorflow (on) |",
        "|---|---|---:|---:|---:|",
    ]
    for model in args.models:
        tf_rate = rate("tensorflow", model)
        for b in backends:
            on, off = rate(b, model), rate(b, model, metrics=False)
            if on is None:
                continue
            ratio = f"{on / tf_rate:.2f}" if tf_rate else "-"
            off_s = f"{off:,.0f}" if off else "-"
            lines.append(f"| {model} | {b} | {on:,.0f} | {off_s} | {ratio} |")
    if len(args.precisions) > 1:
        other = [p for p in args.precisions if p != "float32"]
        lines += [
            "",
            "### Precision (image metrics off)",
            "",
            "| model | backend | float32 img/s | "
            + " | ".join(f"{p} img/s | {p} / float32" for p in other)
            + " |",
            "|---|---|---:|" + "---:|---:|" * len(other),
        ]
        for model in args.models:
            for b in backends:
                base = rate(b, model, metrics=False)
                if base is None:
                    continue
                cells = []
                for p in other:
                    r = rate(b, model, precision=p, metrics=False)
                    cells += (
                        [f"{r:,.0f}", f"{r / base:.2f}"] if r else ["-", "-"]
                    )
                lines.append(
                    f"| {model} | {b} | {base:,.0f} | "
                    + " | ".join(cells)
                    + " |"
                )
    quality_rows = [
        dict(q, backend=b)
        for b in backends
        for q in merged[b].get("quality", [])
    ]
    if quality_rows:
        lines += [
            "",
            f"Conv VAE after {args.quality_steps} steps of batch "
            f"{args.batch_size} on MNIST (grayscale, from the same seed), "
            "evaluated on the first 2,000 test digits:",
            "",
            "| backend | precision | train loss | test loss (-ELBO) | SSIM "
            "| PSNR |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for q in quality_rows:
            lines.append(
                f"| {q['backend']} | {q['precision']} | {q['train_loss']:.1f} "
                f"| {q['test_loss']:.1f} | {q['ssim']:.3f} | {q['psnr']:.2f} |"
            )
    lines += _targets(rate, backends, merged, args)
    peers = [
        (KERAS_IO, "tensorflow"),
        (TORCH_EAGER, "torch"),
        (TORCH_COMPILED, "torch"),
    ]
    peer_rates = [
        (name, rate(b, "conv_pixel_shuffle", name, metrics=False))
        for name, b in peers
    ]
    peer_rates = [(n, r) for n, r in peer_rates if r]
    if peer_rates:
        lines += [
            "",
            "### Against what users would write instead "
            "(conv_pixel_shuffle, float32)",
            "",
            "Peers: "
            + ", ".join(f"{n} {r:,.0f} img/s" for n, r in peer_rates)
            + ". Peers compute no image metrics, so kvae's like-for-like "
            "figure is metrics off; metrics on in brackets.",
            "",
            "| kvae on | img/s (off) | "
            + " | ".join(f"/ {n}" for n, _ in peer_rates)
            + " |",
            "|---|---:|" + "---:|" * len(peer_rates),
        ]
        for b in backends:
            off = rate(b, "conv_pixel_shuffle", metrics=False)
            on = rate(b, "conv_pixel_shuffle")
            if not off:
                continue
            cells = [f"{off / r:.2f} ({on / r:.2f})" for _, r in peer_rates]
            lines.append(f"| {b} | {off:,.0f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# Issue 25's targets: (backend, least ratio to TensorFlow), and the least
# ratio of kvae (metrics off) to the plain PyTorch loop.
BACKEND_TARGETS = (("jax", 0.8), ("torch", 0.9))
PEER_TARGET = 1.0


def _targets(rate, backends, merged, args):
    """The issue-25 table: every ratio it sets a target for, and whether
    it is met. Backend ratios use image metrics off (as the issue does) in
    float32 and in each backend's `precision="auto"` choice; nothing
    when no ratio with a target was measured."""
    if "tensorflow" not in backends:
        return []
    header = [
        "",
        "### Targets (issue 25)",
        "",
        'Image metrics off, as in the issue. "auto" is each backend\'s '
        '`precision="auto"` '
        "choice on this machine ("
        + ", ".join(f"{b}: {merged[b].get('auto_policy')}" for b in backends)
        + ").",
        "",
        "| ratio | model | precision | measured | target | met |",
        "|---|---|---|---:|---:|---|",
    ]
    lines = []

    def policy(backend, label):
        return merged[backend].get("auto_policy") if label == "auto" else label

    for model in (m for m in args.models if m in TARGET_MODELS):
        for label in ("float32", "auto"):
            tf_policy = policy("tensorflow", label)
            base = rate("tensorflow", model, precision=tf_policy, metrics=False)
            if not base:
                continue
            for backend, target in BACKEND_TARGETS:
                if backend not in backends:
                    continue
                r = rate(
                    backend,
                    model,
                    precision=policy(backend, label),
                    metrics=False,
                )
                if r is None:
                    continue
                ratio = r / base
                lines.append(
                    f"| {backend} / tensorflow | {model} | {label} | "
                    f"{ratio:.2f} | {target:.1f} | "
                    f"{'yes' if ratio >= target else 'no'} |"
                )
    loop = rate("torch", "conv_pixel_shuffle", TORCH_EAGER, metrics=False)
    for backend in backends if loop else ():
        off = rate(backend, "conv_pixel_shuffle", metrics=False)
        if off:
            ratio = off / loop
            met = "yes" if ratio >= PEER_TARGET else "no"
            lines.append(
                f"| kvae on {backend} / plain PyTorch loop (metrics off) | "
                f"conv_pixel_shuffle | float32 | {ratio:.2f} | "
                f"{PEER_TARGET:.1f} | {met} |"
            )
    return header + lines if lines else []


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models",
        nargs="+",
        choices=list(MODELS),
        default=list(DEFAULT_MODELS),
    )
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS))
    parser.add_argument("--precisions", nargs="+", default=list(PRECISIONS))
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--res-batch", type=int, default=32)
    parser.add_argument("--res-steps", type=int, default=5)
    parser.add_argument("--latent-dim", type=int, default=16)
    parser.add_argument(
        "--res-latent-dim",
        type=int,
        default=256,
        help="latent size of residual_64 (the dogs recipe's default)",
    )
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=None,
        help="torch.set_num_threads in the torch process (default: torch's).",
    )
    parser.add_argument("--torch-compile", action="store_true")
    parser.add_argument(
        "--worker-timeout",
        type=float,
        default=None,
        help="Seconds each backend's process may run; a slower one is "
        "reported as failed and the others are still written.",
    )
    parser.add_argument(
        "--quality-steps",
        type=int,
        default=0,
        help="Also train the conv VAE this many steps on MNIST per precision "
        "and report test ELBO, SSIM and PSNR (needs --mnist-dir).",
    )
    parser.add_argument("--mnist-dir", default=None)
    parser.add_argument("--title", default="Training throughput (CPU)")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--worker", action="store_true")
    args = parser.parse_args()
    if args.quality_steps and not args.mnist_dir:
        parser.error("--quality-steps needs --mnist-dir (the MNIST .gz files)")
    if args.worker:
        worker(args)
        return
    outs = []
    for _ in range(args.rounds):
        for backend in args.backends:
            outs.append(run_backend(backend, args))
    table = to_markdown(_merge(outs), args)
    print(table)
    if not args.no_write:
        sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))
        from benchmarks.report import update_section

        update_section(args.title, table)


if __name__ == "__main__":
    main()
