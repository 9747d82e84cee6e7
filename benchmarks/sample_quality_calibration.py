"""Calibrates the sample-quality scores on one dataset and one trained model.

Scores, against a random half of the test images, in kvae's random
features (and a classifier's, with --feature-model):
- the floor: real training images, and the other half of the test images;
- corruptions of that other half: Gaussian blur and Gaussian noise at
  three strengths each (the scores must grow with the strength);
- the model: reconstructions of training images (the yardstick), prior
  samples at temperature 1 and at --temperatures (0.8), every group of a
  hierarchical model drawn from its prior, the fitted samplers' samples;
- stability: FD, KID, precision and recall of train-vs-test and of the
  best sampler on 250 to N images over several seeds (mean and spread).

Writes a markdown report (--out) and prints it; samples.png of the model
beside it. Example (the published calibration, docs/sample_quality.md):

    python benchmarks/sample_quality_calibration.py --run runs/kmnist \\
        --dataset kmnist --manual-dir ../shared/data/kmnist \\
        --train-split "test[:9000]" --test-split "test[9000:]" \\
        --feature-model runs/classifier-kmnist/classifier.keras \\
        --out docs/calibration/kmnist.md
"""

import argparse
import os
import time

import keras
import numpy as np
from scipy.ndimage import gaussian_filter

import kvae
from kvae import evaluation
from kvae.experiment import Config
from kvae.experiment import flags
from kvae.experiment.data import load_test_split
from kvae.experiment.data import load_train_arrays
from kvae.experiment.generation import generated_sets
from kvae.experiment.sample_figure import save_sample_figure
from kvae.samplers.sampler import prior_samples
from kvae.utils import write_text
from kvae.utils.platform_info import environment

BLUR = (0.5, 1.0, 2.0)
NOISE = (0.05, 0.1, 0.2)


def run_parser(description):
    """The flags of a script that scores a trained run: --run, --dataset,
    the data flags, --feature-model and --images."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--run", required=True, help="folder with model.keras")
    parser.add_argument("--dataset", required=True)
    flags.add_data_flags(parser)
    parser.add_argument("--feature-model")
    parser.add_argument("--images", type=int, default=2000)
    flags.add_field_flags(parser, Config(), ["sampler_images"])
    # The field flags leave an omitted flag out of the namespace; the
    # scripts read it, so it gets the recipes' default.
    parser.set_defaults(sampler_images=Config().sampler_images)
    return parser


def parse(argv=None):
    parser = run_parser(__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--temperatures",
        type=float,
        nargs="*",
        default=[0.8],
        help="prior temperatures scored beside temperature 1",
    )
    parser.add_argument("--two-stage-epochs", type=int, default=50)
    parser.add_argument("--mixture-components", type=int, default=10)
    parser.add_argument("--out", required=True, help="markdown report")
    args = parser.parse_args(argv)
    if not os.path.isfile(os.path.join(args.run, "model.keras")):
        parser.error(f"no model.keras in --run {args.run!r}")
    # The report and its figure go beside each other: a missing folder
    # would fail only after all the scoring.
    if not os.path.isdir(os.path.dirname(args.out) or "."):
        parser.error(
            f"the folder of --out {args.out!r} does not exist; create it "
            "or give a path in an existing folder"
        )
    config = flags.data_config(
        parser,
        args,
        two_stage_epochs=args.two_stage_epochs,
        sampler_images=args.sampler_images,
        mixture_components=args.mixture_components,
        feature_model=args.feature_model,
    )
    return args, config


def load_run(run, config, images):
    """`(model, x_train, x_test, first, second)`: the model of the folder
    `run`, the first `config.sampler_images` training images (those a
    sampler is fitted to), the test split, and two random halves of it of
    `images` images each (at most half the split)."""
    model = kvae.load_model(os.path.join(run, "model.keras"))
    x_test, _, _ = load_test_split(config)
    x_train, _, _ = load_train_arrays(config, config.sampler_images)
    order = np.random.default_rng(0).permutation(len(x_test))
    n = min(images, len(x_test) // 2)
    first, second = x_test[order[:n]], x_test[order[n : 2 * n]]
    return model, x_train, x_test, first, second


def main(argv=None):
    args, config = parse(argv)
    start = time.perf_counter()
    run = load_run(args.run, config, args.images)
    model, x_train, x_test, real, other = run
    n = len(real)
    sets, fitted = generated_sets(model, config, x_train, n)
    tempered = {f"prior_t{t:g}": t for t in args.temperatures}
    for name, t in tempered.items():
        sets[name] = np.clip(prior_samples(model, n, temperature=t), 0, 1)
    sets["test_vs_test"] = other
    for sigma in BLUR:
        sets[f"blur_{sigma}"] = gaussian_filter(
            other, sigma=(0, sigma, sigma, 0)
        )
    for sigma in NOISE:
        noise = np.random.default_rng(1).standard_normal(other.shape)
        sets[f"noise_{sigma}"] = np.clip(other + sigma * noise, 0, 1).astype(
            "float32"
        )
    spaces = {"random features": None}
    if args.feature_model:
        spaces["classifier"] = evaluation.feature_extractor(
            keras.saving.load_model(args.feature_model)
        )
    lines = [
        f"# Sample-quality calibration: {args.dataset}",
        "",
        f"Model: `{args.run}/model.keras`; {n} images per set against {n} "
        "test images (a random half of the test split; corruptions are of "
        f"the other half). {environment_line()}",
        "",
        "Command: `python benchmarks/sample_quality_calibration.py "
        + " ".join(argv_text(argv))
        + "`",
        "",
    ]
    best = {}
    for space, network in spaces.items():
        reference = evaluation.extract_features(real, network)
        rows = {
            name: evaluation.sample_scores(reference, images, network)
            for name, images in sets.items()
        }
        generators = ["prior", *tempered, *fitted]
        best[space] = min(generators, key=lambda g: rows[g]["fd"])
        lines += [f"## In the {space} space", ""] + table(rows) + [""]
        lines.append(
            f"Best generator: **{best[space]}**, FD "
            f"{rows[best[space]]['fd']:.2f} = "
            f"{rows[best[space]]['fd'] / rows['reconstructions']['fd']:.2f}x "
            "the reconstructions of training images, "
            f"{rows[best[space]]['fd'] / rows['prior']['fd']:.3f}x the prior "
            "samples."
        )
        lines.append("")
        lines += stability(
            x_train,
            x_test,
            sets[best[space]],
            network,
            args.seeds,
            n,
            best[space],
        )
    save_sample_figure(
        {
            "prior": sets["prior"],
            best["random features"]: sets[best["random features"]],
        },
        os.path.join(
            os.path.dirname(args.out) or ".", f"{args.dataset}-samples.png"
        ),
    )
    lines.append(f"Wall time: {time.perf_counter() - start:.0f} s.")
    text = "\n".join(lines) + "\n"
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    write_text(args.out, text)
    print(text)


def table(rows):
    out = [
        "| set | FD | KID (x1000) | precision | recall | density | coverage |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, r in rows.items():
        out.append(
            f"| {name} | {r['fd']:.2f} | {1000 * r['kid']:.2f} ± "
            f"{1000 * r['kid_std']:.2f} | {r['precision']:.3f} | "
            f"{r['recall']:.3f} | {r['density']:.3f} | {r['coverage']:.3f} |"
        )
    return out


def stability(x_train, x_test, generated, network, seeds, n, name):
    """Mean ± standard deviation over seeds of each score, by set size."""
    sizes = sorted({s for s in (250, 500, 1000, 2000, n) if s <= n})
    out = [
        f"Spread over {seeds} seeds (random subsets of training, test and "
        f"{name} images):",
        "",
        "| pair | images | FD | KID (x1000) | precision | recall |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for pair, images in (("train vs test", x_train), (name, generated)):
        for size in sizes:
            values = []
            for seed in range(seeds):
                rng = np.random.default_rng(100 + seed)
                a = x_test[rng.choice(len(x_test), size, replace=False)]
                b = images[rng.choice(len(images), size, replace=False)]
                values.append(
                    evaluation.sample_scores(
                        a, b, network, verbose=0, subset_size=min(size, 1000)
                    )
                )
            out.append(
                f"| {pair} | {size} | "
                + " | ".join(
                    spread([v[key] * scale for v in values])
                    for key, scale in (
                        ("fd", 1),
                        ("kid", 1000),
                        ("precision", 1),
                        ("recall", 1),
                    )
                )
                + " |"
            )
    return out + [""]


def spread(values):
    return f"{np.mean(values):.2f} ± {np.std(values):.2f}"


def environment_line():
    info = environment()
    load = os.getloadavg()
    return (
        f"Backend {info.get('backend')}, {info.get('device')}; load average "
        f"{load[0]:.1f} at the end."
    )


def argv_text(argv):
    import shlex
    import sys

    return [shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv)]


if __name__ == "__main__":
    main()
