"""Where XLA:CPU spends a jitted JAX function's time, op by op.

`jax.profiler` records one trace event per XLA:CPU thunk (each fusion,
convolution or dot of the optimized program), named after its HLO
instruction. This module times a few calls under the profiler, sums each
instruction's time per call, and looks up its output shape in the
optimized HLO that XLA dumps (`dump_flags`), so that a table can say, for
example, that `transpose_copy_fusion.1 f32[32,28,28,128]` took 17 ms.

Used by `profile_conv_vae.py --jax-profile`. Call `add_dump_flags` before
JAX runs anything: XLA reads `XLA_FLAGS` once, when it starts.
"""

import collections
import glob
import gzip
import json
import os
import re
import tempfile

# Name prefix of an XLA:CPU instruction -> what it does, first match wins.
CATEGORIES = (
    (("transpose", "copy", "slice"), "layout copies and transposes"),
    (("conv",), "convolutions (Eigen)"),  # conv_general_dilated, convolution
    (("ynn_fusion",), "YNNPACK fusions (dots, reductions)"),
    (("dot",), "matrix products"),
)
OTHER = "elementwise and other fusions"


def add_dump_flags(folder):
    """Adds the flags that dump optimized HLO text into `folder`."""
    flags = os.environ.get("XLA_FLAGS", "")
    os.environ["XLA_FLAGS"] = (
        f"{flags} --xla_dump_to={folder} --xla_dump_hlo_as_text"
    ).strip()


def category(op_name):
    """The `CATEGORIES` entry for an HLO instruction name."""
    for prefixes, name in CATEGORIES:
        if op_name.startswith(prefixes):
            return name
    return OTHER


def _shapes(dump_folder, module):
    """HLO instruction name -> output shape, from the optimized dump."""
    pattern = os.path.join(
        dump_folder, f"*.{module}.cpu_after_optimizations.txt"
    )
    shapes = {}
    line_re = re.compile(r"^\s*(?:ROOT )?%([\w.\-]+) = (\S+\[[\d,]*\])")
    for path in glob.glob(pattern):
        with open(path) as f:
            for line in f:
                match = line_re.match(line)
                if match:
                    shapes.setdefault(match.group(1), match.group(2))
    return shapes


def profile(run, calls, module, dump_folder):
    """Times `run()` `calls` times under the profiler, per XLA instruction.

    Args:
        run: callable that runs the jitted function once and waits for it.
        calls: int. How many calls to trace (the times are per call).
        module: str. The HLO module's name, e.g. `"jit_train_step"`.
        dump_folder: str. The folder given to `add_dump_flags`.

    Returns:
        A list of dicts `{"op", "shape", "category", "ms"}`, slowest first.
    """
    import jax

    with tempfile.TemporaryDirectory() as trace_folder:
        jax.profiler.start_trace(trace_folder)
        for _ in range(calls):
            run()
        jax.profiler.stop_trace()
        (path,) = glob.glob(
            os.path.join(trace_folder, "plugins", "profile", "*", "*.json.gz")
        )
        with gzip.open(path) as f:
            events = json.load(f)["traceEvents"]
    micros = collections.Counter()
    for event in events:
        args = event.get("args", {})
        if event.get("ph") == "X" and args.get("hlo_module") == module:
            micros[args["hlo_op"]] += event["dur"]
    shapes = _shapes(dump_folder, module)
    rows = [
        {
            "op": op,
            "shape": shapes.get(op, "?"),
            "category": category(op),
            "ms": total / calls / 1000,
        }
        for op, total in micros.items()
    ]
    return sorted(rows, key=lambda row: -row["ms"])


def summary(rows, top=12):
    """Markdown tables: time per category, then the `top` slowest ops."""
    per_category = collections.Counter()
    for row in rows:
        per_category[row["category"]] += row["ms"]
    total = sum(per_category.values())
    lines = ["| XLA:CPU work | ms per step | share |", "|---|---:|---:|"]
    for name, ms in per_category.most_common():
        lines.append(f"| {name} | {ms:.1f} | {ms / total:.0%} |")
    lines.append(f"| all thunks (both threads' work, summed) | {total:.1f} | |")
    lines += ["", "| op | output shape | ms per step |", "|---|---|---:|"]
    for row in rows[:top]:
        lines.append(f"| {row['op']} | {row['shape']} | {row['ms']:.2f} |")
    return "\n".join(lines)
