"""Where the default conv VAE spends its training step, on each backend.

Two views, each backend in its own subprocess:

- per layer: forward and backward (gradients of the weights and the input)
  of each layer of `ConvEncoder(16)` + `ConvDecoder()` alone, at its real
  input shape, compiled the way the backend's `fit` runs it (`tf.function`,
  `jax.jit`, eager torch); medians of alternating rounds;
- whole step: the median time of `model.train_function` on one batch, with
  the sum of the layer times beside it, so that what is left (the ELBO, the
  image metrics, the optimizer, Keras's per-step work) shows as the rest.

With `--torch-profile`, the torch worker also prints `torch.profiler`'s
table of the ten most expensive operators over ten training steps; with
`--jax-profile`, the JAX worker prints XLA:CPU's time per kind of work and
its slowest instructions with their shapes (`jax_op_profile.py`).

    python benchmarks/profile_conv_vae.py --batch-size 128
"""

import argparse
import itertools
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

import jax_op_profile

from kvae.utils import run_with_backend

BACKENDS = ("tensorflow", "jax", "torch")


def _layers(model):
    """(name, layer, input shape) for each layer of the conv VAE."""
    enc, dec = model.encoder, model.decoder
    b = None
    return [
        ("enc conv 28->14 (1->32)", enc.convs[0], (b, 28, 28, 1)),
        ("enc conv 14->7 (32->64)", enc.convs[1], (b, 14, 14, 32)),
        ("enc dense 3136->128", enc.dense, (b, 3136)),
        ("dec dense 16->128", dec.dense, (b, 16)),
        ("dec project 128->3136", dec.project, (b, 128)),
        ("dec upsample 7->14 (64->64)", dec.upsamples[0], (b, 7, 7, 64)),
        ("dec upsample 14->28 (64->32)", dec.upsamples[1], (b, 14, 14, 64)),
        ("dec out conv (32->1)", dec.out, (b, 28, 28, 32)),
    ]


def _grad_fn(layer):
    """A function x -> (loss, grads) for `layer`, compiled per backend."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        @tf.function
        def step(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                loss = tf.reduce_sum(tf.cast(layer(x), "float32"))
            return loss, tape.gradient(
                loss, [x] + [v.value for v in layer.trainable_variables]
            )

        return step
    if backend == "jax":
        import jax

        trainable = [v.value for v in layer.trainable_variables]
        others = [v.value for v in layer.non_trainable_variables]

        def loss_fn(weights, x):
            y, _ = layer.stateless_call(weights, others, x)
            return y.astype("float32").sum()

        jitted = jax.jit(jax.value_and_grad(loss_fn, argnums=(0, 1)))

        def step(x):
            out = jitted(trainable, x)
            jax.block_until_ready(out)
            return out

        return step

    def step(x):
        x = x.detach().requires_grad_(True)
        layer.zero_grad()
        loss = layer(x).float().sum()
        loss.backward()
        return loss

    return step


def _median_time(fn, arg, rounds, repeats):
    fn(arg)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(repeats):
            fn(arg)
        times.append((time.perf_counter() - start) / repeats)
    return statistics.median(times)


def worker(args):
    import keras
    import numpy as np

    import kvae

    backend = keras.backend.backend()
    if backend == "jax" and args.jax_profile:
        dump_folder = tempfile.mkdtemp(prefix="kvae-hlo-")
        jax_op_profile.add_dump_flags(dump_folder)
    if backend == "torch" and args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    if args.precision != "float32":
        keras.config.set_dtype_policy(args.precision)
    model = kvae.VAE(
        kvae.layers.ConvEncoder(16), kvae.layers.ConvDecoder(), seed=0
    )
    model.image_metrics = args.image_metrics
    model.build((None, 28, 28, 1))
    model.compile(optimizer="adam")
    rng = np.random.default_rng(0)
    batch = args.batch_size
    x = (rng.random((batch, 28, 28, 1)) < 0.3).astype("float32")

    rows = []
    steps = []
    for name, layer, shape in _layers(model):
        inp = keras.ops.convert_to_tensor(
            rng.standard_normal((batch,) + shape[1:]).astype("float32"),
            dtype=layer.compute_dtype,
        )
        steps.append((name, _grad_fn(layer), inp))
    totals = {name: [] for name, _, _ in steps}
    for _ in range(args.rounds):
        for name, fn, inp in steps:
            totals[name].append(_median_time(fn, inp, 1, args.repeats))
    for name, _, _ in steps:
        rows.append(
            {"part": name, "ms": 1000 * statistics.median(totals[name])}
        )

    # One fit epoch builds the train function; then time it on one batch.
    model.fit(x, epochs=1, batch_size=batch, verbose=0)
    model.make_train_function()
    train_function = model.train_function
    data = _train_input(model, x, batch)

    def one_step(data):
        logs = train_function(data)
        if backend == "jax":
            import jax

            jax.block_until_ready(logs)
        return logs

    if backend == "jax":
        # The JAX train function is stateless: feed the state it returns.
        state = _jax_state(model)

        def one_step(data):  # noqa: F811
            nonlocal state
            import jax

            logs, state = train_function(state, data)
            jax.block_until_ready(logs)
            return logs

    step_ms = 1000 * _median_time(one_step, data, args.rounds, args.repeats)
    layer_sum = sum(r["ms"] for r in rows)
    rows.append({"part": "sum of the layers above", "ms": layer_sum})
    rows.append({"part": "whole train step", "ms": step_ms})
    rows.append(
        {
            "part": "rest: ELBO, metrics, optimizer, Keras",
            "ms": step_ms - layer_sum,
        }
    )
    if backend == "torch" and args.torch_profile:
        _torch_profile(one_step, data)
    if backend == "jax" and args.jax_profile:
        op_rows = jax_op_profile.profile(
            lambda: one_step(data), 10, "jit_train_step", dump_folder
        )
        print(jax_op_profile.summary(op_rows), file=sys.stderr)
        shutil.rmtree(dump_folder, ignore_errors=True)
    print("RESULTS " + json.dumps({"backend": backend, "rows": rows}))


def _train_input(model, x, batch):
    """What each backend's train function takes: an iterator or a list."""
    import keras

    data = keras.ops.convert_to_tensor(x[:batch])
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return iter(tf.data.Dataset.from_tensors(data).repeat())
    if keras.backend.backend() == "jax":
        return itertools.repeat([data])
    # Keras hands the step a list of steps_per_execution batches.
    return [data]


def _jax_state(model):
    return (
        [v.value for v in model.trainable_variables],
        [v.value for v in model.non_trainable_variables],
        [v.value for v in model.optimizer.variables],
        [v.value for v in model.metrics_variables],
    )


def _torch_profile(one_step, data):
    import torch

    with torch.profiler.profile(
        activities=[torch.profiler.ProfilerActivity.CPU]
    ) as prof:
        for _ in range(10):
            one_step(data)
    print(
        prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15),
        file=sys.stderr,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS))
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--precision", default="float32")
    parser.add_argument(
        "--no-image-metrics", dest="image_metrics", action="store_false"
    )
    parser.add_argument("--torch-profile", action="store_true")
    parser.add_argument("--jax-profile", action="store_true")
    parser.add_argument("--torch-threads", type=int, default=None)
    parser.add_argument("--worker", action="store_true")
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    results = {}
    for backend in args.backends:
        cmd = [sys.executable, os.path.abspath(__file__), "--worker"]
        cmd += ["--batch-size", str(args.batch_size)]
        cmd += ["--rounds", str(args.rounds), "--repeats", str(args.repeats)]
        cmd += ["--precision", args.precision]
        if not args.image_metrics:
            cmd.append("--no-image-metrics")
        if args.torch_profile:
            cmd.append("--torch-profile")
        if args.jax_profile:
            cmd.append("--jax-profile")
        if args.torch_threads:
            cmd += ["--torch-threads", str(args.torch_threads)]
        proc = run_with_backend(cmd, backend, capture_output=True, text=True)
        if (args.torch_profile and backend == "torch") or (
            args.jax_profile and backend == "jax"
        ):
            print(proc.stderr[-6000:])
        for line in proc.stdout.splitlines():
            if line.startswith("RESULTS "):
                results[backend] = json.loads(line[8:])["rows"]
        if backend not in results:
            print(proc.stderr[-3000:], file=sys.stderr)
    parts = [r["part"] for r in next(iter(results.values()))]
    head = "| part | " + " | ".join(f"{b} ms" for b in results) + " |"
    print(head)
    print("|---|" + "---:|" * len(results))
    for i, part in enumerate(parts):
        cells = " | ".join(f"{results[b][i]['ms']:.2f}" for b in results)
        print(f"| {part} | {cells} |")


if __name__ == "__main__":
    main()
