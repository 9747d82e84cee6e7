"""Overhead of data-parallel training on CPU virtual devices (img/s).

On CPU, virtual devices share the same cores, so this measures the cost of
the distribution machinery, not how training scales on accelerators. Each
device count needs its own process (JAX fixes it at start-up, TensorFlow
splits the CPU before it starts). Inside a process the models with and
without the wrapper are timed in turns, one `fit` epoch each, so that load
from other jobs hits both alike; the first epochs of each (compilation) are
dropped.

- JAX: no distribution vs `keras.distribution.DataParallel`, in a process
  with 1 device and in one with 4 (`--xla_force_host_platform_device_count`).
- TensorFlow: no strategy vs `tf.distribute.MirroredStrategy` over 1 and
  over 2 logical CPU devices.

    python benchmarks/distribution_overhead.py
    python benchmarks/distribution_overhead.py --steps 4 --repeats 3 --no-write
"""

import argparse
import json
import os
import statistics
import sys
import time

from kvae.utils import run_with_backend

SHAPE = (28, 28, 1)
TITLE = "Distribution overhead (CPU virtual devices)"


def build_model(latent_dim):
    import kvae

    return kvae.VAE(
        kvae.layers.ConvEncoder(latent_dim),
        kvae.layers.ConvDecoder(SHAPE),
        seed=0,
    )


def time_in_turns(models, args):
    """`models`: {name: (model, scope_factory)}; median img/s of each."""
    import numpy as np

    rng = np.random.default_rng(0)
    x = (rng.random((args.batch_size * args.steps,) + SHAPE) < 0.3).astype(
        "float32"
    )
    durations = {name: [] for name in models}
    for repeat in range(args.warmup + args.repeats):
        for name, (model, scope) in models.items():
            with scope():
                start = time.perf_counter()
                model.fit(
                    x,
                    batch_size=args.batch_size,
                    epochs=1,
                    shuffle=False,
                    verbose=0,
                )
                elapsed = time.perf_counter() - start
            if repeat >= args.warmup:
                durations[name].append(elapsed)
    return {
        name: len(x) / statistics.median(times)
        for name, times in durations.items()
    }


def jax_worker(args):
    import contextlib

    import jax
    import keras

    devices = jax.devices()
    n = len(devices)
    distribution = keras.distribution.DataParallel(devices=devices)
    configs = {
        "no distribution": contextlib.nullcontext,
        "DataParallel": distribution.scope,
    }
    models = {}
    for name, scope in configs.items():
        with scope():
            model = build_model(args.latent_dim)
            model.compile(optimizer="adam")
        models[name] = (model, scope)
    rates = time_in_turns(models, args)
    base = rates["no distribution"]
    return [
        {
            "backend": "jax",
            "devices": n,
            "variant": k,
            "used": n if k == "DataParallel" else 1,
            "img_per_s": v,
            "ratio": v / base,
        }
        for k, v in rates.items()
    ]


def tf_worker(args):
    import contextlib

    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )
    one = tf.distribute.MirroredStrategy(["/cpu:0"])
    two = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    configs = [
        (1, "no strategy", contextlib.nullcontext),
        (1, "MirroredStrategy", one.scope),
        (2, "MirroredStrategy", two.scope),
    ]
    models = {}
    for devices, name, scope in configs:
        with scope():
            model = build_model(args.latent_dim)
            model.compile(optimizer="adam")
        models[(devices, name)] = (model, scope)
    rates = time_in_turns(models, args)
    base = rates[(1, "no strategy")]
    return [
        {
            "backend": "tensorflow",
            "devices": 2,
            "variant": k,
            "used": d,
            "img_per_s": v,
            "ratio": v / base,
        }
        for (d, k), v in rates.items()
    ]


def run_worker(backend, devices, args):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker"]
    cmd += ["--steps", str(args.steps), "--repeats", str(args.repeats)]
    cmd += ["--warmup", str(args.warmup)]
    cmd += ["--batch-size", str(args.batch_size)]
    cmd += ["--latent-dim", str(args.latent_dim)]
    env = {"CUDA_VISIBLE_DEVICES": ""}
    if backend == "jax":
        flags = [
            f
            for f in os.environ.get("XLA_FLAGS", "").split()
            if "force_host_platform_device_count" not in f
        ]
        flags.append(f"--xla_force_host_platform_device_count={devices}")
        # XLA aborts if a device thread is 40 s late to a collective, which
        # a loaded machine can cause.
        flags.append("--xla_cpu_collective_call_terminate_timeout_seconds=600")
        env.update(JAX_PLATFORMS="cpu", XLA_FLAGS=" ".join(flags))
    proc = run_with_backend(
        cmd, backend, env=env, capture_output=True, text=True
    )
    for line in proc.stdout.splitlines():
        if line.startswith("RESULTS "):
            return json.loads(line[len("RESULTS ") :])
    print(proc.stderr[-3000:], file=sys.stderr)
    lines = [
        line.strip()
        for line in proc.stderr.splitlines()
        if line.strip() and not line.lstrip().startswith(("@", "***"))
    ]
    error = (lines or ["no output"])[-1].replace("|", "/")[:200]
    return [{"backend": backend, "devices": devices, "error": error}]


def to_markdown(results, args, loads):
    lines = [
        f"Conv VAE (`ConvEncoder(16)`, `ConvDecoder((28, 28, 1))`, image "
        f"metrics on), batch {args.batch_size} (the global batch, split "
        f"across devices), {args.steps} steps per epoch; median of "
        f"{args.repeats} epochs per variant, timed in turns after "
        f"{args.warmup} warm-up epochs (compilation). The virtual devices "
        "share the same cores: the figures show the machinery's cost on "
        "CPU, not scaling on accelerators (a program split over several "
        "virtual devices can still keep the cores busier than a one-device "
        "program). 1-minute load average before/after the run: "
        f"{loads[0]:.1f} / {loads[1]:.1f} on {os.cpu_count()} cores (other "
        "jobs make the figures noisy; compare ratios within a process).",
        "",
        "| backend | devices in the process | variant | devices used | "
        "img/s | vs. no wrapper, same process |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for r in results:
        if "error" in r:
            lines.append(
                f"| {r['backend']} | {r['devices']} | failed: {r['error']} "
                "| | | |"
            )
            continue
        lines.append(
            f"| {r['backend']} | {r['devices']} | {r['variant']} | "
            f"{r['used']} | {r['img_per_s']:.0f} | {r['ratio']:.2f} |"
        )
    lines += [
        "",
        "Without a wrapper, a process with several devices computes on the "
        "first one only. The TensorFlow rows come from one process whose CPU "
        "is split into 2 logical devices. GPU figures were "
        "not measured: no GPU machine was lent to the session that wrote "
        "this section.",
    ]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    # Two: Keras 3.15 compiles a DataParallel step over one JAX device a
    # second time, at the first step of the second fit() call.
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--latent-dim", type=int, default=16)
    parser.add_argument("--backends", nargs="+", default=["jax", "tensorflow"])
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--worker", action="store_true")
    args = parser.parse_args()
    if args.worker:
        import keras

        backend = keras.backend.backend()
        worker = {"jax": jax_worker, "tensorflow": tf_worker}[backend]
        print("RESULTS " + json.dumps(worker(args)))
        return
    load_before = os.getloadavg()[0]
    results = []
    if "jax" in args.backends:
        for devices in (1, 4):
            results += run_worker("jax", devices, args)
    if "tensorflow" in args.backends:
        results += run_worker("tensorflow", 2, args)
    table = to_markdown(results, args, (load_before, os.getloadavg()[0]))
    print(table)
    if not args.no_write:
        sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))
        from benchmarks.report import update_section

        update_section(TITLE, table)


if __name__ == "__main__":
    main()
