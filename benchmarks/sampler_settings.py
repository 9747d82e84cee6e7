"""Sweeps the Gaussian-mixture sampler's settings on one trained model.

For each number of components, `reg_covar` and temperature, fits
`kvae.samplers.GaussianMixtureSampler` to the training codes (and, with
--two-stage-epochs and --flow-epochs, `kvae.samplers.TwoStageSampler` and
`kvae.samplers.FlowSampler` for each number of epochs) and scores
its samples against a random half of the test images (the same half as
`sample_quality_calibration.py`): FD in kvae's random features (and a
classifier's, with --feature-model), as a ratio to the yardstick (the
reconstructions of training images), and Meehan et al.'s data-copying
statistic C_T in the decoder's image space (see
`kvae.experiment.generation.copying_statistics`), which says whether a
setting reaches a low FD by copying the training codes.

Writes a markdown report (--out) and prints it. Example (the published
sweep, docs/sample_quality.md):

    python benchmarks/sampler_settings.py --run runs/kmnist \\
        --dataset kmnist --manual-dir ../shared/data/kmnist \\
        --train-split "test[:9000]" --test-split "test[9000:]" \\
        --images 500 --components 150 600 1000 --out runs/kmnist-sweep.md
"""

import os
import time

import keras
import numpy as np
from sample_quality_calibration import argv_text
from sample_quality_calibration import environment_line
from sample_quality_calibration import load_run
from sample_quality_calibration import run_parser

from kvae import evaluation
from kvae import samplers
from kvae.experiment import flags
from kvae.experiment.generation import copying_statistics
from kvae.experiment.generation import reconstruct_images
from kvae.experiment.sample_figure import save_sample_figure
from kvae.samplers.sampler import LEVELS
from kvae.samplers.sampler import prior_samples
from kvae.utils import write_text


def parse(argv=None):
    parser = run_parser(__doc__.splitlines()[0])
    parser.add_argument("--components", type=int, nargs="+", default=[150])
    parser.add_argument("--reg-covar", type=float, nargs="+", default=[1e-6])
    parser.add_argument("--temperatures", type=float, nargs="+", default=[1.0])
    parser.add_argument(
        "--levels",
        choices=LEVELS,
        default="top",
        help="the codes the samplers fit: the top group's, or (a "
        "hierarchical model's) every group's (Sampler.fit's levels)",
    )
    parser.add_argument(
        "--pca-components",
        type=int,
        nargs="+",
        default=None,
        help="also sweep the mixture's principal components (default: "
        "none, the mixture on the codes themselves)",
    )
    parser.add_argument(
        "--two-stage-epochs",
        type=int,
        nargs="*",
        default=[],
        help="also fit a two-stage sampler trained this many epochs",
    )
    parser.add_argument(
        "--flow-epochs",
        type=int,
        nargs="*",
        default=[],
        help="also fit a flow sampler (RealNVP) trained this many epochs",
    )
    parser.add_argument(
        "--reference",
        choices=("first", "second"),
        default="first",
        help="which random half of the test split the sets are scored "
        "against: 'second' confirms a setting chosen on the first on test "
        "images it was not chosen on",
    )
    parser.add_argument(
        "--figure",
        help="PNG: the prior's samples beside the best setting's (random "
        "features)",
    )
    parser.add_argument("--out", required=True, help="markdown report")
    args = parser.parse_args(argv)
    if not os.path.isfile(os.path.join(args.run, "model.keras")):
        parser.error(f"no model.keras in --run {args.run!r}")
    for path in (args.out, args.figure):
        if path and not os.path.isdir(os.path.dirname(path) or "."):
            parser.error(f"the folder of {path!r} does not exist")
    # Each setting is checked here, not after the codes are encoded.
    counts = args.components + args.two_stage_epochs + args.flow_epochs
    for k in counts + (args.pca_components or []):
        if k < 1:
            parser.error(
                "--components, --pca-components, --two-stage-epochs and "
                f"--flow-epochs must be >= 1, got {k}"
            )
    for t in args.temperatures:
        if t <= 0:
            parser.error(f"--temperatures must be > 0, got {t}")
    config = flags.data_config(parser, args, sampler_images=args.sampler_images)
    return args, config


def main(argv=None):
    args, config = parse(argv)
    start = time.perf_counter()
    model, x_train, _, first, second = load_run(args.run, config, args.images)
    real = first if args.reference == "first" else second
    n = len(real)
    rng = np.random.default_rng(0)
    train = x_train[np.sort(rng.choice(len(x_train), n, replace=False))]
    sets = {
        "reconstructions": reconstruct_images(model, train),
        "prior": np.clip(prior_samples(model, n), 0, 1),
    }
    settings = {
        f"mixture, {k}, {reg:g}"
        + (f", PCA {pca}" if pca else ""): lambda k=k, reg=reg, pca=pca: (
            samplers.GaussianMixtureSampler(
                k, reg_covar=reg, pca_components=pca
            )
        )
        for k in args.components
        for reg in args.reg_covar
        for pca in args.pca_components or [None]
    }
    for epochs in args.two_stage_epochs:
        settings[f"two-stage, {epochs} epochs"] = lambda e=epochs: (
            samplers.TwoStageSampler(epochs=e)
        )
    for epochs in args.flow_epochs:
        settings[f"flow, {epochs} epochs"] = lambda e=epochs: (
            samplers.FlowSampler(epochs=e)
        )
    fit_seconds = {}
    for setting, make in settings.items():
        began = time.perf_counter()
        sampler = make().fit(model, x_train, verbose=0, levels=args.levels)
        seconds = time.perf_counter() - began
        for t in args.temperatures:
            name = f"{setting}, {t:g}"
            sets[name] = np.clip(sampler.sample(n, seed=0, temperature=t), 0, 1)
            fit_seconds[name] = seconds
        print(f"fitted {setting} in {seconds:.0f} s", flush=True)
    spaces = {"random": None}
    if args.feature_model:
        spaces["classifier"] = evaluation.feature_extractor(
            keras.saving.load_model(args.feature_model)
        )
    fd, features = {}, {}
    for space, network in spaces.items():
        reference = evaluation.extract_features(real, network, verbose=0)
        features[space] = {
            name: evaluation.extract_features(images, network, verbose=0)
            for name, images in sets.items()
        }
        fd[space] = {
            name: evaluation.frechet_distance(reference, f, network).value
            for name, f in features[space].items()
        }
    copying = copying_statistics(
        model, x_train, real, features["random"], list(sets)
    )
    lines = [
        f"# Sampler settings: {args.dataset}",
        "",
        f"Model: `{args.run}/model.keras`; {len(x_train)} training codes "
        f"(levels: {args.levels}); "
        f"{n} images per set against {n} test images. {environment_line()}",
        "",
        "Command: `python benchmarks/sampler_settings.py "
        + " ".join(argv_text(argv))
        + "`",
        "",
        "| generator (mixture: components, reg_covar; temperature) | "
        + " | ".join(f"FD, {s} (x yardstick)" for s in spaces)
        + " | C_T | fit (s) |",
        "| --- | " + " | ".join("---:" for _ in spaces) + " | ---: | ---: |",
    ]
    for name in sets:
        cells = [
            f"{fd[s][name]:.3f} ({fd[s][name] / fd[s]['reconstructions']:.2f}x)"
            for s in spaces
        ]
        fit = f"{fit_seconds[name]:.0f}" if name in fit_seconds else ""
        lines.append(
            f"| {name} | {' | '.join(cells)} | "
            f"{copying['statistic'][name]:.1f} | {fit} |"
        )
    best = min(fit_seconds, key=lambda name: fd["random"][name])
    lines += [
        "",
        f"Best setting in the random features: **{best}**, FD "
        f"{fd['random'][best] / fd['random']['reconstructions']:.2f}x the "
        f"yardstick, {fd['random'][best] / fd['random']['prior']:.3f}x the "
        f"prior's; scored against the {args.reference} half of the test "
        "split.",
    ]
    if args.figure:
        save_sample_figure(
            {"prior": sets["prior"], best: sets[best]},
            args.figure,
            {name: fd["random"][name] for name in ("prior", best)},
        )
    lines += ["", f"Wall time: {time.perf_counter() - start:.0f} s."]
    text = "\n".join(lines) + "\n"
    write_text(args.out, text)
    print(text)


if __name__ == "__main__":
    main()
