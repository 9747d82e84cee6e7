"""Input-pipeline speed: kvae.datasets alone, and Keras' batch conversion.

Measures, for each Keras backend (each in its own subprocess, whatever
KERAS_BACKEND the caller has set):

- the tf.data pipeline alone (iterating `kvae.datasets.load(...)`): MNIST
  train (cached, shuffled) and the dog image folder at 64x64 with
  augmentation (first epoch: decode + resize; later epochs: cached);
- the same batches through Keras' data adapter for the backend
  (`get_jax_iterator` / `get_torch_dataloader` / `get_tf_dataset`, what
  `fit` iterates), so the difference is the tf.data -> backend conversion;
- the NumPy route (`kvae.datasets.load_numpy` arrays through Keras'
  array adapter with shuffle=True);
- `fit` of a trivial model (Flatten + Dense 10, SGD) on both routes, so
  the input cost shows next to a (near-free) training step;
- Stanford Dogs from its extracted tree (`--stanford-dogs`, default
  shared/data/stanford_dogs; skipped if absent): the `--stanford-dogs-split`
  images (default the 12,000 train images) at 64x64 with the train
  defaults, first epoch (list check, JPEG decode, resize, crop) and cached
  epochs (uint8 64x64 in memory, then flip/rotation per batch). Training
  the residual dogs model runs at about 30 img/s on 2 cores
  (benchmarks/dogs_settings.py), so the pipeline is far from the bottleneck.

Figures are medians of `--repeats` timed epochs, batches of 128: MNIST
`--mnist-split` (default the 60,000 train images), dogs `--dog-copies`
class folders of symlinks to the 120 photos (default 8: 960 files).

    python benchmarks/input_pipeline.py                 # all backends
    python benchmarks/input_pipeline.py --quick         # small, a check
    python benchmarks/input_pipeline.py --backends jax --no-write
    python benchmarks/input_pipeline.py --parts stanford_dogs \
        --backends tensorflow --no-write     # the Stanford Dogs rows only
"""

import argparse
import json
import os
import statistics
import sys
import time

from kvae.utils import run_with_backend

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get(
    "KVAE_SHARED_DATA", os.path.join(os.path.dirname(REPO), "shared", "data")
)
BATCH = 128
TITLE = "Input pipeline"
PARTS = ("mnist", "folder", "stanford_dogs")


def _median_rate(fn, repeats):
    """Median images/s of `fn()` (which returns its image count)."""
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        count = fn()
        rates.append(count / (time.perf_counter() - start))
    return statistics.median(rates)


def _epoch(iterable):
    """Iterates one epoch; returns the number of images seen."""
    count = 0
    for batch in iterable:
        images = batch[0] if isinstance(batch, (tuple, list)) else batch
        count += int(images.shape[0])
    return count


def _adapter_epoch(adapter, backend):
    if backend == "jax":
        return _epoch(adapter.get_jax_iterator())
    if backend == "torch":
        return _epoch(adapter.get_torch_dataloader())
    return _epoch(adapter.get_tf_dataset())


def _linked_dog_folder(root, copies):
    """`copies` class folders of symlinks to the 120 dog photos."""
    source = os.path.join(
        SHARED, "stanford_dogs_subset", "imagenet_sample_images"
    )
    for i in range(copies):
        folder = os.path.join(root, f"copy{i}")
        os.makedirs(folder)
        for name in sorted(os.listdir(source)):
            os.symlink(os.path.join(source, name), os.path.join(folder, name))
    return root


def worker(args):
    """Runs in a subprocess with KERAS_BACKEND set; prints one JSON line."""
    import keras
    from keras.src.trainers.data_adapters import get_data_adapter

    sys.path.insert(0, REPO)  # This checkout's kvae, in the part functions.
    backend = keras.backend.backend()
    out = {"backend": backend}
    parts = args.parts.split(",")
    if "mnist" in parts:
        _mnist(args, out, backend, get_data_adapter)
    if "folder" in parts:
        _dog_folder(args, out, backend, get_data_adapter)
    if "stanford_dogs" in parts and os.path.isdir(args.stanford_dogs):
        _stanford_dogs(args, out, backend, get_data_adapter)
    print("RESULT " + json.dumps(out), flush=True)


def _mnist(args, out, backend, get_data_adapter):
    import keras

    import kvae.datasets

    repeats = args.repeats
    manual = os.path.join(SHARED, "mnist")

    # MNIST: tf.data alone, then through Keras' adapter, in whole epochs
    # (each epoch refills the shuffle buffer, as in training). The first
    # epoch fills the in-memory cache and is not timed.
    ds = kvae.datasets.load(
        "mnist",
        args.mnist_split,
        batch_size=BATCH,
        data_dir=args.data_dir,
        manual_dir=manual,
        with_labels=True,
        seed=0,
    )
    _epoch(ds)
    out["mnist_tfdata"] = _median_rate(lambda: _epoch(ds), repeats)
    adapter = get_data_adapter(ds)
    out["mnist_tfdata_keras"] = _median_rate(
        lambda: _adapter_epoch(adapter, backend), repeats
    )
    x, y = kvae.datasets.load_numpy(
        "mnist", args.mnist_split, manual_dir=manual
    )

    def numpy_epoch():
        adapter = get_data_adapter(x, y, batch_size=BATCH, shuffle=True)
        return _adapter_epoch(adapter, backend)

    out["mnist_numpy_keras"] = _median_rate(numpy_epoch, repeats)

    # fit() of a trivial model, one epoch, both routes (after a warm-up
    # epoch that compiles).
    def fit_rate(data, **kwargs):
        model = keras.Sequential(
            [
                keras.Input((28, 28, 1)),
                keras.layers.Flatten(),
                keras.layers.Dense(10),
            ]
        )
        model.compile(
            "sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        )

        def one_epoch():
            model.fit(data, epochs=1, verbose=0, **kwargs)
            return len(x)

        one_epoch()
        return _median_rate(one_epoch, repeats)

    out["mnist_fit_tfdata"] = fit_rate(ds, shuffle=False)
    out["mnist_fit_numpy"] = fit_rate(x, y=y, batch_size=BATCH, shuffle=True)


def _dog_folder(args, out, backend, get_data_adapter):
    import tempfile

    import kvae.datasets

    repeats = args.repeats
    # Dogs at 64x64 with the train defaults (shuffle, flip, rotation),
    # from a folder of symlinks: `dog_copies` x the 120 photos.
    with tempfile.TemporaryDirectory(prefix="kvae_dogs_") as tmp:
        folder = _linked_dog_folder(tmp, args.dog_copies)
        start = time.perf_counter()
        paths, _, _ = kvae.datasets.scan_image_folder(folder)
        out["dogs_files"] = len(paths)
        out["dogs_scan"] = len(paths) / (time.perf_counter() - start)

        def first_epoch():
            dogs = kvae.datasets.load(
                "images", directory=folder, batch_size=BATCH
            )
            start = time.perf_counter()
            count = _epoch(dogs)
            return count / (time.perf_counter() - start)

        out["dogs_first_epoch"] = statistics.median(
            first_epoch() for _ in range(repeats)
        )
        dogs = kvae.datasets.load("images", directory=folder, batch_size=BATCH)
        _epoch(dogs)
        out["dogs_cached"] = _median_rate(lambda: _epoch(dogs), repeats)
        adapter = get_data_adapter(dogs)
        out["dogs_cached_keras"] = _median_rate(
            lambda: _adapter_epoch(adapter, backend), repeats
        )


def _stanford_dogs(args, out, backend, get_data_adapter):
    import kvae.datasets

    def load():
        return kvae.datasets.load(
            "stanford_dogs",
            args.stanford_dogs_split,
            batch_size=32,
            manual_dir=args.stanford_dogs,
        )

    def first_epoch():
        start = time.perf_counter()
        dogs = load()  # Reads the lists and checks every file.
        count = _epoch(dogs)
        out["stanford_dogs_images"] = count
        return count / (time.perf_counter() - start)

    # Fewer repeats: each decodes every JPEG of the split.
    out["stanford_dogs_first_epoch"] = statistics.median(
        first_epoch() for _ in range(min(args.repeats, 2))
    )
    dogs = load()
    _epoch(dogs)
    out["stanford_dogs_cached"] = _median_rate(
        lambda: _epoch(dogs), args.repeats
    )
    adapter = get_data_adapter(dogs)
    out["stanford_dogs_cached_keras"] = _median_rate(
        lambda: _adapter_epoch(adapter, backend), args.repeats
    )


def _table(results):
    def row(label, key, unit="img/s"):
        cells = []
        for r in results:
            v = r.get(key)
            cells.append("-" if v is None else f"{v:,.0f}")
        return f"| {label} | {unit} | " + " | ".join(cells) + " |"

    def has(key):
        return any(key in r for r in results)

    def overhead_row(label, alone, keras_key, batch=BATCH):
        # Differences of two noisy rates: compare orders of magnitude.
        cells = []
        for r in results:
            if r["backend"] == "tensorflow":
                # get_tf_dataset() is the dataset itself: no conversion.
                cells.append("none (native)")
                continue
            # Extra microseconds per batch that Keras' adapter adds.
            extra = batch / r[keras_key] - batch / r[alone]
            cells.append(f"{extra * 1e6:,.0f}")
        return f"| {label} | µs/batch | " + " | ".join(cells) + " |"

    head = "| measurement | unit | " + " | ".join(r["backend"] for r in results)
    lines = [
        head + " |",
        "|---|---|" + "---|" * len(results),
    ]
    if has("mnist_tfdata"):
        lines += [
            row("MNIST, tf.data alone (cached, shuffled)", "mnist_tfdata"),
            row("MNIST, tf.data through Keras' adapter", "mnist_tfdata_keras"),
            overhead_row(
                "MNIST, Keras tf.data conversion cost",
                "mnist_tfdata",
                "mnist_tfdata_keras",
            ),
            row(
                "MNIST, NumPy route through Keras' adapter",
                "mnist_numpy_keras",
            ),
            row("MNIST, fit trivial model, tf.data", "mnist_fit_tfdata"),
            row("MNIST, fit trivial model, NumPy", "mnist_fit_numpy"),
        ]
    if has("dogs_scan"):
        lines += [
            row(
                "Dogs folder, check files once (scan_image_folder)",
                "dogs_scan",
            ),
            row(
                "Dogs folder 64x64, first epoch (decode, resize)",
                "dogs_first_epoch",
            ),
            row("Dogs folder 64x64 augmented, cached epochs", "dogs_cached"),
            row(
                "Dogs folder, cached, through Keras' adapter",
                "dogs_cached_keras",
            ),
            overhead_row(
                "Dogs folder, Keras tf.data conversion cost",
                "dogs_cached",
                "dogs_cached_keras",
            ),
        ]
    if has("stanford_dogs_cached"):
        lines += [
            row(
                "Stanford Dogs tree 64x64, first epoch (lists, decode, resize)",
                "stanford_dogs_first_epoch",
            ),
            row(
                "Stanford Dogs 64x64 augmented, cached epochs",
                "stanford_dogs_cached",
            ),
            row(
                "Stanford Dogs, cached, through Keras' adapter",
                "stanford_dogs_cached_keras",
            ),
        ]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", default="tensorflow,jax,torch")
    parser.add_argument("--mnist-split", default="train")
    parser.add_argument("--dog-copies", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--parts",
        default=",".join(PARTS),
        help=f"comma-separated subset of {','.join(PARTS)}",
    )
    parser.add_argument(
        "--stanford-dogs",
        default=os.path.join(SHARED, "stanford_dogs"),
        help="an extracted Stanford Dogs tree (Images/ and split lists)",
    )
    parser.add_argument("--stanford-dogs-split", default="train")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a check: train[:10000], 2 dog copies, 3 repeats",
    )
    parser.add_argument(
        "--data-dir",
        default=os.path.join(REPO, ".data", "tfds"),
        help="tfds data_dir; MNIST is prepared there once from shared/data",
    )
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.mnist_split, args.dog_copies, args.repeats = "train[:10000]", 2, 3
    if args.worker:
        worker(args)
        return
    results = []
    load_before = os.getloadavg()[0]
    for backend in args.backends.split(","):
        command = [
            sys.executable,
            os.path.abspath(__file__),
            "--worker",
            f"--mnist-split={args.mnist_split}",
            f"--dog-copies={args.dog_copies}",
            f"--repeats={args.repeats}",
            f"--data-dir={args.data_dir}",
            f"--parts={args.parts}",
            f"--stanford-dogs={args.stanford_dogs}",
            f"--stanford-dogs-split={args.stanford_dogs_split}",
        ]
        print(f"[{backend}] running...", flush=True)
        done = run_with_backend(
            command, backend, capture_output=True, text=True
        )
        lines = [
            line
            for line in done.stdout.splitlines()
            if line.startswith("RESULT ")
        ]
        if done.returncode or not lines:
            sys.stderr.write(done.stderr[-5000:])
            raise SystemExit(f"[{backend}] failed ({done.returncode})")
        results.append(json.loads(lines[-1][len("RESULT ") :]))
        print(json.dumps(results[-1], indent=1), flush=True)
    body = (
        f"Batches of {BATCH}; medians of {args.repeats} timed epochs: MNIST "
        f"split `{args.mnist_split}`, dogs {args.dog_copies} x 120 photos "
        "(symlinks to shared/data/stanford_dogs_subset); Stanford Dogs "
        f"`{args.stanford_dogs_split}` from the extracted tree in batches of "
        "32, first epoch median of 2. Each backend runs "
        "in its own process. "
        '"Through Keras\' adapter" is what `fit` iterates on that backend '
        "(`get_jax_iterator`, `get_torch_dataloader`, `get_tf_dataset`); the "
        "conversion cost is its extra time per batch over tf.data alone. "
        "The NumPy route is `kvae.datasets.load_numpy` arrays in Keras' "
        "array adapter (shuffle=True). The fit rows train Flatten + "
        "Dense(10) with SGD, so they show input cost plus a near-free step. "
        f"1-minute load average before/after the run: {load_before:.1f} / "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (other jobs "
        "running make the figures noisy; compare orders of magnitude).\n\n"
        + _table(results)
    )
    print(body)
    if not args.no_write:
        sys.path.insert(0, REPO)
        from benchmarks.report import update_section

        update_section(TITLE, body)


if __name__ == "__main__":
    main()
