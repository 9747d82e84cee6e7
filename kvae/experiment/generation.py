"""What a run generates, measured: the samplers fitted after training and
the sample-quality scores of metrics.json's "generation" block.

Every set of images is scored against the same random draw of test images,
in kvae's default feature space and, with `config.feature_model`, in a
trained classifier's:

- `train_vs_test`: real training images, the floor no model reaches;
- `reconstructions`: the model's reconstructions of training images, the
  yardstick of a sampler (unpaired with the test images, like samples);
- `prior`: `model.sample`, draws from the prior;
- one entry per fitted sampler (`kvae.samplers`), each saved beside the
  model as `sampler_<name>.npz`.

Beside the scores, `data_copying` holds Meehan et al.'s `C_T` of each
generated set (`kvae.evaluation.data_copying`, in kvae's default
features): a sampler can approach the yardstick's FD by copying the
training codes, and `C_T` says whether it does. The three sets are
compared in the decoder's own image space: reconstructions of the
training images the samplers were fitted to, reconstructions of the test
images (held out), and the generated images.
"""

import json
import os
import time

import keras
import numpy as np

from kvae import evaluation
from kvae import samplers
from kvae.experiment.data import load_train_arrays
from kvae.experiment.feature_model import load_feature_model
from kvae.experiment.sample_figure import save_sample_figure
from kvae.samplers.class_codes import fits_by_class
from kvae.samplers.gaussian_mixture_sampler import MIN_CODES_PER_COMPONENT
from kvae.samplers.gaussian_mixture_sampler import components_for
from kvae.samplers.sampler import prior_samples
from kvae.samplers.sampler import sampler_file_name

# The k-means cells of the data-copying test, given enough test images
# (40 a cell); with fewer, one cell.
COPYING_CELLS = 10


def make_sampler(name, config, model=None, num_codes=None, verbose=0):
    """The unfitted `kvae.samplers` sampler called `name` in `config`.

    Given the `model` and the `num_codes` it will be fitted to, the
    Gaussian mixture gets at most one component per
    `MIN_CODES_PER_COMPONENT` codes of each density it fits (per class
    where it fits one per class), which it says when `verbose`.
    """
    if name == "gaussian_mixture":
        components = config.mixture_components
        if num_codes is not None:
            per_density = num_codes
            if fits_by_class(model):
                per_density //= model.num_classes
            most = components_for(components, per_density)
            if most < components and verbose:
                print(
                    f"  {per_density} codes a density: {most} mixture "
                    f"components instead of {components} (at least "
                    f"{MIN_CODES_PER_COMPONENT} codes each).",
                    flush=True,
                )
            components = most
        return samplers.GaussianMixtureSampler(
            components,
            reg_covar=config.mixture_reg_covar,
            pca_components=config.mixture_pca_components,
            seed=config.seed,
        )
    # The trained samplers' epochs are the config's <name>_epochs.
    return samplers.SAMPLERS[name](
        epochs=getattr(config, f"{name}_epochs"), seed=config.seed
    )


def score_generation(model, config, x_test, out=None, verbose=1, x_train=None):
    """Fits the samplers of `config`, scores every image set and writes
    the samplers and `samples.png` into `out` (if given).

    `x_train` is the run's training images when it holds them as a NumPy
    array, as `load_train_arrays` reads them (MNIST and KMNIST without
    dynamic binarization): their first `config.sampler_images` are used rather
    than decoding the split again. With `None` they are loaded.

    Returns:
        dict: metrics.json's "generation" block (see the module).
    """
    start = time.perf_counter()
    rng = np.random.default_rng(config.seed)
    n = min(config.score_images, len(x_test))
    real = x_test[np.sort(rng.choice(len(x_test), n, replace=False))]
    if x_train is None:
        x_train, _, _ = load_train_arrays(config, config.sampler_images)
    x_train = x_train[: config.sampler_images]
    sets, fitted = generated_sets(model, config, x_train, n, verbose)
    if out is not None:
        save_samplers(fitted, out)
    spaces = {"random_features": None}
    accuracy = None
    if config.feature_model:
        classifier = load_feature_model(config)
        spaces["classifier"] = evaluation.feature_extractor(classifier)
        accuracy = _classifier_accuracy(config.feature_model)
    scores, features = {}, {}
    for space, network in spaces.items():
        if verbose:
            print(
                f"Scoring {len(sets)} sets of {n} images against {n} test "
                f"images in the {space} space.",
                flush=True,
            )
        reference = evaluation.extract_features(real, network, verbose=0)
        # Each set's features once: the data-copying test reuses the
        # default space's.
        features[space] = {
            name: evaluation.extract_features(images, network, verbose=0)
            for name, images in sets.items()
        }
        scores[space] = {
            name: evaluation.sample_scores(reference, f, network, verbose=0)
            for name, f in features[space].items()
        }
    generators = ["prior", *config.samplers]
    best = min(generators, key=lambda g: scores["random_features"][g]["fd"])
    block = {
        "num_images": n,
        "reference": "test images",
        "feature_model": config.feature_model,
        "feature_model_test_accuracy": accuracy,
        "scores": scores,
        "best_sampler": best,
        "fd_ratio_to_reconstructions": (
            scores["random_features"][best]["fd"]
            / scores["random_features"]["reconstructions"]["fd"]
        ),
        "data_copying": copying_statistics(
            model,
            x_train,
            real,
            features["random_features"],
            ["reconstructions", *generators],
        ),
        "seconds": time.perf_counter() - start,
    }
    if out is not None:
        panels = {"prior": sets["prior"]}
        if best != "prior":
            panels[best] = sets[best]
        save_sample_figure(
            panels,
            os.path.join(out, "samples.png"),
            {g: scores["random_features"][g]["fd"] for g in panels},
        )
    return block


def copying_statistics(model, x_train, x_test, sets, names):
    """`{"statistic": {name: C_T}, "num_cells": ...}`: Meehan et al.'s
    data-copying statistic of each set of `sets` (images, or their
    `Features` in kvae's default features) named in `names`, against the
    reconstructions of `x_train` (the sampler's training images) with
    those of `x_test` held out (see the module)."""
    train = evaluation.extract_features(
        reconstruct_images(model, x_train), verbose=0
    )
    held_out = evaluation.extract_features(
        reconstruct_images(model, x_test), verbose=0
    )
    num_cells = COPYING_CELLS if len(x_test) >= 40 * COPYING_CELLS else 1
    # The paper's 20 generated images a cell, fewer for a tiny run.
    min_per_cell = max(1, min(20, len(x_test) // (2 * num_cells)))
    statistics = {
        name: evaluation.data_copying(
            train,
            held_out,
            sets[name],
            num_cells=num_cells,
            min_per_cell=min_per_cell,
            verbose=0,
        ).statistic
        for name in names
    }
    return {"statistic": statistics, "num_cells": num_cells}


def generated_sets(model, config, x_train, n, verbose=1, seed=0):
    """`(sets, samplers)`: `n` images of each set the generation block
    scores (training images, their reconstructions, prior samples, each
    fitted sampler's samples; see the module), and the fitted samplers by
    name. `seed` draws the training images and the samples."""
    rng = np.random.default_rng(seed)
    train = x_train[
        np.sort(rng.choice(len(x_train), n, replace=n > len(x_train)))
    ]
    # A Gaussian decoder's means can leave [0, 1] a little; they are
    # scored as they are shown, clipped.
    sets = {
        "train_vs_test": train,
        "reconstructions": reconstruct_images(model, train),
        "prior": np.clip(prior_samples(model, n, seed), 0, 1),
    }
    fitted = fit_samplers(model, config, x_train, verbose=verbose)
    for name, sampler in fitted.items():
        sets[name] = np.clip(sampler.sample(n, seed=seed), 0, 1)
    return sets, fitted


def fit_samplers(model, config, x_train, labels=None, verbose=1):
    """`config.samplers`, each fitted to the codes of `x_train` (with
    `labels`, the training labels of a conditional model), by name."""
    fitted = {}
    for name in config.samplers:
        if verbose:
            print(
                f"Fitting the {name} sampler to {len(x_train)} training codes.",
                flush=True,
            )
        sampler = make_sampler(name, config, model, len(x_train), verbose)
        fitted[name] = sampler.fit(
            model,
            x_train,
            labels=labels,
            verbose=1 if verbose == 1 else 0,
            levels=config.sampler_levels,
        )
    return fitted


def save_samplers(fitted, out):
    """Writes each fitted sampler of `fitted` (by name) into `out`, as
    `sampler_<name>.npz`."""
    for name, sampler in fitted.items():
        sampler.save(os.path.join(out, sampler_file_name(name)))


def _classifier_accuracy(path):
    """The test accuracy that recipes/feature_classifier.py wrote beside
    the classifier, or `None`."""
    metrics = os.path.join(os.path.dirname(path), "metrics.json")
    if not os.path.isfile(metrics):
        return None
    with open(metrics, encoding="utf-8") as f:
        return json.load(f).get("test_accuracy")


def reconstruct_images(model, x, batch_size=500):
    """`model.reconstruct(x)` in batches, clipped to [0, 1], as a float32
    NumPy array."""
    images = np.concatenate(
        [
            keras.ops.convert_to_numpy(model.reconstruct(x[i : i + batch_size]))
            for i in range(0, len(x), batch_size)
        ]
    )
    return np.clip(images, 0, 1).astype("float32")


def generation_summary(block):
    """The lines of the run's summary about generation."""
    scores = block["scores"]["random_features"]
    copying = block.get("data_copying", {}).get("statistic", {})
    lines = [
        f"Samples ({block['num_images']} images each, FD in kvae's random "
        "features, lower is better; C_T data copying, << 0 copies):"
    ]
    for name, values in scores.items():
        line = (
            f"  {name:<16} FD {values['fd']:8.2f}  precision "
            f"{values['precision']:.2f}  recall {values['recall']:.2f}"
        )
        if name in copying:
            line += f"  C_T {copying[name]:6.1f}"
        lines.append(line)
    lines.append(
        f"  best sampler: {block['best_sampler']} (FD "
        f"{block['fd_ratio_to_reconstructions']:.2f}x that of the "
        "reconstructions of training images)"
    )
    return lines
