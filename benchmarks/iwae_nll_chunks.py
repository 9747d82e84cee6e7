"""The importance-weighted NLL of a saved binarized-MNIST model on all
10,000 test images, in resumable chunks, with an estimate at any point.

k=1000 on all 10,000 images takes one to two hours on a 2-core CPU (0.4
to 0.7 s an image), more than a session may have free, so the images go
in chunks of `--chunk`,
each saved as it finishes (a rerun skips the chunks on disk; the
settings and a digest of the model's weights are kept in `settings.json`,
and a rerun with others is refused rather than mixed in):

1. the first `--in-order` images in file order (`nll_<from>_<to>.npy`);
2. the others in a random order (`--seed`), so that every prefix of
   those chunks is a random sample of them (`rand_<k>.npz`, with the
   image indices).

`--summary` prints the estimate over all test images from the chunks on
disk: the two parts weighted by their shares, with the standard error of
the random part (finite-population corrected). docs/hierarchical.md
quotes it for the shipped `mnist_hierarchical_vae`:

    python -c "import kvae; kvae.VAE.from_preset(
        'mnist_hierarchical_vae').save('runs/mnist-h/model.keras')"
    python benchmarks/iwae_nll_chunks.py --model runs/mnist-h/model.keras \\
        --manual-dir ../shared/data/mnist \\
        --out benchmarks/results/iwae_nll_mnist_hierarchical_vae
    python benchmarks/iwae_nll_chunks.py --summary \\
        --out benchmarks/results/iwae_nll_mnist_hierarchical_vae

(the scores of every image are kept in that folder, so the command
resumes from them, and `--summary` needs no model).

The test images are binarized once with the likelihood recipe's seed, as
its runs test on them (`kvae.experiment.load_test_split`).
"""

import argparse
import dataclasses
import glob
import hashlib
import json
import os
import time

import numpy as np

SETTINGS_FILE = "settings.json"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", help="A saved kvae model (.keras).")
    parser.add_argument("--manual-dir", help="Folder of MNIST's files.")
    parser.add_argument("--out", required=True, help="Folder of the chunks.")
    parser.add_argument("--samples", type=int, default=1000, help="k.")
    parser.add_argument("--chunk", type=int, default=250)
    parser.add_argument("--in-order", type=int, default=1250)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--summary", action="store_true")
    args = parser.parse_args(argv)
    if not args.summary and not (args.model and args.manual_dir):
        parser.error("give --model and --manual-dir (or --summary)")
    if args.model and not os.path.isfile(args.model):
        parser.error(f"--model {args.model!r} is not a file")
    for name in ("samples", "chunk"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.in_order < 0 or args.in_order % args.chunk:
        parser.error("--in-order must be a non-negative multiple of --chunk")
    return args


def score(args):
    import kvae
    from kvae.experiment import load_test_split
    from kvae.recipes.likelihood import CONFIG

    model = kvae.load_model(args.model)
    config = dataclasses.replace(CONFIG, manual_dir=args.manual_dir)
    x = np.asarray(load_test_split(config)[0])
    score_chunks(
        model, x, args.out, args.samples, args.chunk, args.in_order, args.seed
    )


def chunk_plan(num_images, chunk, in_order, seed):
    """`(file name, image indices, noise seed)` of every chunk, in order."""
    jobs = [
        (f"nll_{a:05d}_{a + chunk:05d}.npy", np.arange(a, a + chunk), a)
        for a in range(0, in_order, chunk)
    ]
    rest = np.random.default_rng(seed).permutation(
        np.arange(in_order, num_images)
    )
    jobs += [
        (f"rand_{i // chunk:03d}.npz", rest[i : i + chunk], 10_000 + i)
        for i in range(0, len(rest), chunk)
    ]
    return jobs


def score_chunks(model, x, out, samples, chunk, in_order, seed):
    """Scores the chunks of `chunk_plan` not yet in `out`, saving each."""
    import kvae

    settings = {
        "samples": samples,
        "chunk": chunk,
        "in_order": in_order,
        "seed": seed,
        "images": len(x),
        "weights_sha256": weights_digest(model),
    }
    os.makedirs(out, exist_ok=True)
    check_settings(out, settings)
    for name, idx, noise_seed in chunk_plan(len(x), chunk, in_order, seed):
        path = os.path.join(out, name)
        if os.path.exists(path):
            continue
        start = time.perf_counter()
        nll = np.asarray(
            kvae.evaluation.importance_weighted_nll(
                model,
                x[idx],
                num_samples=samples,
                seed=noise_seed,
                reduce=False,
            )
        )
        # np.save given a name would add ".npy" to the temporary one.
        with kvae.utils.atomic_path(path) as tmp, open(tmp, "wb") as f:
            if name.endswith(".npy"):
                np.save(f, nll)
            else:
                np.savez(f, idx=idx, nll=nll)
        print(
            f"{name}: mean {nll.mean():.3f} nats, "
            f"{time.perf_counter() - start:.0f} s",
            flush=True,
        )
        summary(out, len(x))


def weights_digest(model):
    """SHA-256 of the model's weights: the same for the model saved again,
    or loaded from its preset, on any backend."""
    digest = hashlib.sha256()
    for weight in model.weights:
        digest.update(weight.path.encode())
        digest.update(np.ascontiguousarray(np.asarray(weight)).tobytes())
    return digest.hexdigest()


def check_settings(out, settings):
    """Records `settings` in `out` on the first run; refuses, before any
    scoring, a later run whose settings (or model) differ, since its
    chunks would be mixed with the earlier ones in one figure."""
    path = os.path.join(out, SETTINGS_FILE)
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            recorded = json.load(f)
        differ = sorted(
            key for key in settings if recorded.get(key) != settings[key]
        )
        if differ:
            changes = ", ".join(
                f"{key}: {recorded.get(key)!r} there, {settings[key]!r} now"
                for key in differ
            )
            raise SystemExit(
                f"{out!r} holds chunks scored with other settings "
                f"({changes}); their figures would mix. Give another --out, "
                "or the same model and settings to resume."
            )
    else:
        from kvae.utils import write_json

        write_json(path, settings)


def summary(out, total=10_000):
    in_order = sorted(glob.glob(os.path.join(out, "nll_*.npy")))
    known = np.concatenate([np.load(f) for f in in_order]) if in_order else []
    chunks = [
        np.load(f) for f in sorted(glob.glob(os.path.join(out, "rand_*.npz")))
    ]
    if len(known):
        print(f"first {len(known)} in file order: mean {np.mean(known):.3f}")
    if not chunks:
        return
    rest = np.concatenate([c["nll"] for c in chunks])
    n_rest = total - len(known)
    se = rest.std(ddof=1) / np.sqrt(len(rest)) * np.sqrt(1 - len(rest) / n_rest)
    estimate = (np.sum(known) + n_rest * rest.mean()) / total
    print(
        f"{len(rest)} of the other {n_rest} at random: mean {rest.mean():.3f}"
        f"\nestimate over all {total}: {estimate:.3f} nats, standard error "
        f"{n_rest / total * se:.3f} ({len(known) + len(rest)} images scored)"
    )


def main(argv=None):
    args = parse_args(argv)
    if args.summary:
        settings = os.path.join(args.out, SETTINGS_FILE)
        total = 10_000
        if os.path.exists(settings):
            with open(settings, encoding="utf-8") as f:
                total = json.load(f)["images"]
        summary(args.out, total)
    else:
        score(args)


if __name__ == "__main__":
    main()
