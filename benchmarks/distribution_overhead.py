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

With `--processes`, the multi-process case instead: img/s of 2 processes
(each pinned to its own core, one thread) against 1 process on one core,
per backend, through `kvae.distribution.data_parallel()` launched as each
backend expects (torchrun's variables, `TF_CONFIG`, `KERAS_DISTRIBUTION_*`)
on 127.0.0.1. It writes its own section.

    python benchmarks/distribution_overhead.py
    python benchmarks/distribution_overhead.py --steps 4 --repeats 3 --no-write
    python benchmarks/distribution_overhead.py --processes
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
PROCESS_TITLE = "Data parallelism across processes (CPU, one core each)"


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


def process_worker(args):
    """One process of the multi-process case; process 0 prints img/s."""
    import keras
    import numpy as np

    import kvae.distribution

    launched = kvae.distribution.launched()
    keras.utils.set_random_seed(0)
    distribution = kvae.distribution.data_parallel() if launched else None
    with kvae.distribution.scope(distribution):
        model = build_model(args.latent_dim)
        model.compile(optimizer="adam")

    class EpochTimes(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self.start)

    rng = np.random.default_rng(0)
    x = (rng.random((args.batch_size * args.steps,) + SHAPE) < 0.3).astype(
        "float32"
    )
    times = EpochTimes()
    model.fit(
        x,
        batch_size=args.batch_size,
        epochs=args.warmup + args.repeats,
        shuffle=False,
        verbose=0,
        callbacks=[times],
    )
    seconds = statistics.median(times.seconds[args.warmup :])
    if kvae.distribution.process_index() == 0:
        print("RESULTS " + json.dumps({"img_per_s": len(x) / seconds}))


def process_envs(backend, count):
    """The launch variables of `count` processes of `backend`."""
    from kvae.utils import local_launch_envs

    if count == 1:
        return [{}]
    return local_launch_envs(backend, count)


def run_processes(backend, count, args):
    """img/s of `count` processes of `backend`, each on its own core."""
    import subprocess

    from kvae.utils import backend_env

    cmd = [sys.executable, os.path.abspath(__file__), "--process-worker"]
    cmd += ["--steps", str(args.steps), "--repeats", str(args.repeats)]
    cmd += ["--warmup", str(args.warmup)]
    cmd += ["--batch-size", str(args.batch_size)]
    cmd += ["--latent-dim", str(args.latent_dim)]
    procs = []
    for core, env in enumerate(process_envs(backend, count)):
        env = backend_env(
            backend,
            CUDA_VISIBLE_DEVICES="",
            JAX_PLATFORMS="cpu",
            OMP_NUM_THREADS="1",
            TF_NUM_INTRAOP_THREADS="1",
            TF_NUM_INTEROP_THREADS="1",
            **env,
        )
        procs.append(
            subprocess.Popen(
                ["taskset", "-c", str(core % os.cpu_count()), *cmd],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outputs = [p.communicate(timeout=1200) for p in procs]
    for line in outputs[0][0].splitlines():
        if line.startswith("RESULTS "):
            result = json.loads(line[len("RESULTS ") :])
            return {"backend": backend, "processes": count, **result}
    lines = [
        line.strip()
        for line in outputs[0][1].splitlines()
        if line.strip() and not line.lstrip().startswith(("@", "***"))
    ]
    error = (lines or ["no output"])[-1].replace("|", "/")[:200]
    return {"backend": backend, "processes": count, "error": error}


def processes_markdown(results, args, loads):
    lines = [
        f"Conv VAE (`ConvEncoder(16)`, `ConvDecoder((28, 28, 1))`, image "
        f"metrics on), global batch {args.batch_size} (split across the "
        f"processes), {args.steps} steps per epoch, median of "
        f"{args.repeats} epochs after {args.warmup} warm-up epochs. Each "
        "process is pinned to its own core (`taskset`) with one thread; "
        "the processes talk over 127.0.0.1 (torch: gloo; TensorFlow: gRPC "
        "collectives; JAX: gloo). 1-minute load average before/after: "
        f"{loads[0]:.1f} / {loads[1]:.1f} on {os.cpu_count()} cores, "
        "shared with other jobs, so the figures are noisy.",
        "",
        "| backend | processes | img/s | vs. 1 process |",
        "|---|---:|---:|---:|",
    ]
    base = {}
    for r in results:
        if "error" in r:
            lines.append(
                f"| {r['backend']} | {r['processes']} | failed: "
                f"{r['error']} | |"
            )
            continue
        base.setdefault(r["backend"], r["img_per_s"])
        ratio = r["img_per_s"] / base[r["backend"]]
        lines.append(
            f"| {r['backend']} | {r['processes']} | {r['img_per_s']:.0f} | "
            f"{ratio:.2f} |"
        )
    lines += [
        "",
        "Two processes do half the arithmetic each, on two cores, and pay "
        "for an all-reduce of every gradient (0.93 M float32 values, 20 "
        "variables, here) at each step over loopback. With other jobs "
        "keeping the 2 cores busy, the second core is not free, so no "
        "speed-up is expected here: the rows show what the machinery "
        "costs. torch (one flat all_reduce per step) and JAX (XLA's "
        "gloo all-reduce in the compiled step) lose little; TensorFlow's "
        "MultiWorkerMirroredStrategy over gRPC on CPU costs far more per "
        "step (not investigated further: on GPUs it uses NCCL). On a real "
        "cluster the compute per step is much larger (GPUs, bigger models "
        "and batches) and the all-reduce runs over NVLink/InfiniBand with "
        "nccl, so scaling depends on the gradient size against the "
        "compute of a step; measure there before relying on it.",
    ]
    return "\n".join(lines)


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
    parser.add_argument("--backends", nargs="+", default=None)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--worker", action="store_true")
    parser.add_argument("--processes", action="store_true")
    parser.add_argument("--process-worker", action="store_true")
    args = parser.parse_args()
    if args.process_worker:
        process_worker(args)
        return
    if args.processes:
        load_before = os.getloadavg()[0]
        results = []
        for backend in args.backends or ["torch", "tensorflow", "jax"]:
            for count in (1, 2):
                results.append(run_processes(backend, count, args))
        loads = (load_before, os.getloadavg()[0])
        table = processes_markdown(results, args, loads)
        print(table)
        if not args.no_write:
            sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))
            from benchmarks.report import update_section

            update_section(PROCESS_TITLE, table)
        return
    if args.worker:
        import keras

        backend = keras.backend.backend()
        worker = {"jax": jax_worker, "tensorflow": tf_worker}[backend]
        print("RESULTS " + json.dumps(worker(args)))
        return
    load_before = os.getloadavg()[0]
    results = []
    args.backends = args.backends or ["jax", "tensorflow"]
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
