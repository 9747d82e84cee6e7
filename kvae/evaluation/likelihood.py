"""Likelihood evaluation of a trained `kvae.VAE`: the negative ELBO and the
importance-weighted estimate of `-log p(x)` (the IWAE bound).

Both are in nats per image, like the losses `fit` logs. The importance
weights are computed in `keras.ops`, so every backend gives the same
numbers; the noise is drawn with NumPy from `seed`, so the same weights give
the same estimate on TensorFlow, JAX and PyTorch.

Example:

```python
import kvae

nelbo = kvae.evaluation.negative_elbo(model, x_test)
nll = kvae.evaluation.importance_weighted_nll(model, x_test, num_samples=1000)
print(f"-ELBO {nelbo:.2f} nats, -log p(x) <= {nll:.2f} nats")
```

Reference:
- [Burda, Grosse and Salakhutdinov, 2015](https://arxiv.org/abs/1509.00519)
"""

import math

import keras
import numpy as np
from keras import ops

from kvae.validation import is_array
from kvae.validation import labeled_batches

# Decoder passes per compiled call: (samples in a chunk) x (images in a
# batch). 10,000 28x28 images are about 30 MB of float32 output.
_DEFAULT_CHUNK_ELEMENTS = 10_000


def negative_elbo(model, data, labels=None, batch_size=None, verbose=0):
    """The negative ELBO of `data` under `model`, as `model.evaluate` has it.

    This is `reconstruction_loss + kl_loss` from `model.evaluate`, in nats
    per image: a single-sample Monte Carlo estimate of
    `E_q[-log p(x | z)] + KL(q(z | x) || p(z))`, averaged over the data. It
    is the true negative ELBO whatever the model's `beta` (the logged `loss`
    weights the KL term by `beta`), and it is an upper bound on `-log p(x)`.

    Args:
        data: NumPy array of images, a `tf.data.Dataset` or anything else
            `model.evaluate` takes (the labels of a dataset of pairs are
            ignored by an unconditional model).
        labels: class labels of the images, for a `kvae.ConditionalVAE`
            (whose bound is then on `-log p(x | y)`); `None` for a dataset
            of pairs or an unconditional model.
        batch_size: int or `None`. Batch size for arrays (Keras's default
            of 32 if `None`).
        verbose: int. Passed to `model.evaluate`.

    Returns:
        float. The negative ELBO in nats per image.
    """
    logs = evaluate_logs(
        model, data, labels, batch_size=batch_size, verbose=verbose
    )
    return logs["reconstruction_loss"] + logs["kl_loss"]


def evaluate_logs(model, data, labels=None, batch_size=None, verbose=0):
    """`model.evaluate(data, labels, return_dict=True)` as a dict of
    floats."""
    _check_model(model, compiled=True)
    if batch_size is not None:
        _positive_int("batch_size", batch_size)
    logs = model.evaluate(
        data, labels, batch_size=batch_size, verbose=verbose, return_dict=True
    )
    return {name: float(value) for name, value in logs.items()}


def log_importance_weights(model, x, eps, labels=None):
    """`log w = log p(x | z) + log p(z) - log q(z | x)` for given noise.

    With `z = mu(x) + sigma(x) * eps`, for each of the `k` noise draws and
    each image; in a hierarchical model `z` holds every level's code and
    `q` is the whole inference path (`model.log_importance_weights`). Every
    density is a full normalized density (the constants included), so
    `logsumexp(log w) - log k` is a lower bound on `log p(x)` that tightens
    as `k` grows.

    Args:
        model: a built `kvae.VAE` (or `kvae.HierarchicalVAE`).
        x: images `(batch, *image_shape)`.
        eps: standard normal noise `(k, batch, model.total_latent_dim)`.
        labels: the images' labels, for a `kvae.ConditionalVAE` (then
            `p(x | z, y)` and `q(z | x, y)`); `None` otherwise.

    Returns:
        float32 tensor `(k, batch)`.
    """
    return model.log_importance_weights(x, eps, **_labels_kwargs(labels))


def importance_weighted_nll(
    model,
    x,
    num_samples=1000,
    batch_size=None,
    seed=0,
    reduce=True,
    labels=None,
    chunk_size=None,
    verbose=0,
):
    """Importance-weighted estimate of `-log p(x)` (the IWAE bound).

    For each image, `k = num_samples` codes are drawn from the encoder's
    posterior `q(z | x)` and

        -log p(x) ~= -log (1/k) sum_i p(x | z_i) p(z_i) / q(z_i | x),

    computed with a stable log-sum-exp. In expectation the estimate is an
    upper bound on the true `-log p(x)` that decreases towards it as `k`
    grows; `k=1` is a single-sample estimate of the negative ELBO. The
    literature reports it with `k=5000` (Burda et al.) or `k=1000` on
    binarized MNIST; for a Bernoulli model trained on grayscale images it is
    not a likelihood of anything comparable (the pixels are not binary).

    Images go `batch_size` at a time and the samples `chunk_size` at a time,
    and the per-chunk log-sum-exps are combined exactly, so memory does not
    grow with `num_samples`: k=1000 or 5000 fit anywhere.

    Args:
        model: a trained `kvae.VAE` (Bernoulli or Gaussian likelihood).
        x: NumPy array of images `(n, *image_shape)` in the model's data
            space, or an iterable of batches (e.g. a `tf.data.Dataset` of
            images or `(images, labels)`).
        num_samples: int. `k`, importance samples per image.
        batch_size: int or `None`. Images per batch for arrays; `None`
            picks one so that a chunk of samples decodes about 10,000
            images at once.
        seed: int. Seed of the NumPy noise (the same seed and weights give
            the same estimate on every backend).
        reduce: bool. Return the mean over images (a float) if `True`, the
            per-image estimates (a NumPy array `(n,)`) if `False`.
        labels: the labels of the images in `x` (an array), for a
            `kvae.ConditionalVAE`: the estimate is then of `-log p(x | y)`.
            An iterable of `(images, labels)` batches carries its own.
        chunk_size: int or `None`. Samples decoded at once per batch;
            `None` picks one from the same budget.
        verbose: int. 0 is silent, 1 shows a progress bar over the images
            (with the time left), 2 prints one line when done.

    Returns:
        float, or NumPy array `(n,)` with `reduce=False`: nats per image.

    Example:

    ```python
    nll = kvae.evaluation.importance_weighted_nll(model, x_test[:1000])
    ```

    Reference:
    - [Burda, Grosse and Salakhutdinov, 2015](https://arxiv.org/abs/1509.00519)
    """
    _check_model(model)
    model.check_labels_given(labels, "importance_weighted_nll()")
    num_samples = _positive_int("num_samples", num_samples)
    seed = _seed(seed)
    _check_not_a_list_of_images(model, x)
    if batch_size is not None:
        batch_size = _positive_int("batch_size", batch_size)
    if chunk_size is not None:
        chunk_size = _positive_int("chunk_size", chunk_size)
    if batch_size is None:
        batch_size = max(
            1, min(500, _DEFAULT_CHUNK_ELEMENTS // min(num_samples, 100))
        )
    if chunk_size is None:
        chunk_size = max(1, _DEFAULT_CHUNK_ELEMENTS // batch_size)
    chunk_size = min(chunk_size, num_samples)
    rng = np.random.default_rng(seed)
    progbar = keras.utils.Progbar(
        _num_images(x), verbose=verbose, unit_name="image"
    )
    done = 0
    estimates = []
    # The same checks as fit: the whole array, or each batch of an
    # iterable (cheap next to k decoder passes per image).
    what = "data given to importance_weighted_nll"
    if is_array(x):
        x = ops.convert_to_numpy(x)
        model.check_batch(x, what)
        if x.ndim < 2:
            raise ValueError(
                "importance_weighted_nll needs a batch of images, got an "
                f"array of shape {x.shape}."
            )
    batches, _ = labeled_batches(x, batch_size, labels)
    for images, batch_labels in batches:
        if not is_array(x):
            model.check_batch(images, what)
        images = np.asarray(images, dtype=np.float32)
        latent_dim = model.total_latent_dim
        sums = []
        for start in range(0, num_samples, chunk_size):
            k = min(chunk_size, num_samples - start)
            eps = rng.standard_normal(
                (k, len(images), latent_dim), dtype=np.float32
            )
            log_w = log_importance_weights(
                model,
                images,
                eps,
                # An unconditional model ignores the labels of pairs.
                batch_labels if getattr(model, "conditional", False) else None,
            )
            sums.append(_logsumexp(ops.convert_to_numpy(log_w)))
            # Whole images only: the bar moves within a batch as its
            # chunks of samples are done, and reaches each batch's end.
            progbar.update(done + len(images) * (start + k) // num_samples)
        done += len(images)
        sums = np.stack(sums).astype(np.float64)
        top = sums.max(axis=0)
        log_mean = (
            top + np.log(np.exp(sums - top).sum(axis=0)) - math.log(num_samples)
        )
        estimates.append(-log_mean)
    if not estimates:
        raise ValueError("importance_weighted_nll got no images.")
    if progbar.target is None:
        progbar.update(done, finalize=True)
    estimates = np.concatenate(estimates)
    return float(estimates.mean()) if reduce else estimates


def _logsumexp(log_weights):
    """`logsumexp` over the samples (axis 0), in float64."""
    log_weights = np.asarray(log_weights, dtype=np.float64)
    top = log_weights.max(axis=0)
    return top + np.log(np.exp(log_weights - top).sum(axis=0))


def _labels_kwargs(labels):
    """`labels=` for a model method, where there are labels."""
    return {} if labels is None else {"labels": labels}


def _num_images(x):
    """The number of images in an array (the progress bar's target)."""
    return int(x.shape[0]) if is_array(x) else None


def _positive_int(name, value, minimum=1):
    if (
        not isinstance(value, (int, np.integer))
        or isinstance(value, bool)
        or value < minimum
    ):
        bound = "a positive int" if minimum == 1 else f"an int >= {minimum}"
        raise ValueError(
            f"`{name}` must be {bound}; got {value!r} ({type(value).__name__})."
        )
    return int(value)


def _check_not_a_list_of_images(model, x):
    """A list of batches is an iterable like any other; a list of single
    images would be read as batches of their rows."""
    if not isinstance(x, list) or not x or not model.built:
        return
    if not isinstance(x[0], tuple) and np.ndim(x[0]) == len(model.image_shape):
        raise ValueError(
            "importance_weighted_nll takes a NumPy array of images (n, "
            f"{', '.join(map(str, model.image_shape))}) or an iterable of "
            f"batches, got a Python list of {len(x)} single images: "
            "np.asarray(images, dtype='float32')."
        )


def _seed(seed):
    """The seed of NumPy's generator: an int >= 0."""
    return _positive_int("seed", seed, minimum=0)


def _check_model(model, compiled=False):
    """Raises unless `model` is a kvae model (compiled, if asked)."""
    if not callable(getattr(model, "log_importance_weights", None)):
        raise TypeError(
            "kvae.evaluation takes a kvae.VAE or kvae.HierarchicalVAE "
            f"(kvae.load_model(path) loads one), got {type(model).__name__}:"
            " the bounds need its encoder, decoder and prior."
        )
    if compiled and not getattr(model, "compiled", True):
        raise ValueError(
            "The model is not compiled: call model.compile() first (any "
            "optimizer; evaluation does not train)."
        )


def evaluate(
    model,
    x,
    num_samples=1000,
    num_examples=None,
    batch_size=None,
    seed=0,
    verbose=0,
    labels=None,
):
    """The test metrics a recipe reports, in one dict of floats.

    Args:
        model: a trained `kvae.VAE`.
        x: NumPy array of test images.
        num_samples: int. `k` of the importance-weighted estimate; 0 skips
            it.
        num_examples: int >= 1 or `None`. The importance-weighted estimate
            uses `num_examples` images only (it costs `k` decoder passes per
            image), drawn at random without replacement with `seed`:
            test sets are often ordered, and the first 1,000 MNIST test
            digits, for one, score 1.4 nats better than the whole set.
            `None` uses all.
        batch_size: int or `None`. Batch size of `model.evaluate`.
        seed: int. Seed of the importance samples.
        verbose: int. Passed to `model.evaluate` and to
            `importance_weighted_nll` (1: progress bars).
        labels: NumPy array of the test labels, for a
            `kvae.ConditionalVAE`: every figure is then conditional on
            them (`-log p(x | y)`).

    Returns:
        dict with `negative_elbo`, `reconstruction_loss`, `kl_loss` (nats
        per image), `kl_loss_1`, `kl_loss_2`, ... (each level's KL, for a
        hierarchical model), `mse`, `ssim`, `psnr` (when the model tracks
        them), and `iwae_nll`, `iwae_samples`, `iwae_examples` when
        `num_samples > 0`.
    """
    num_samples = _positive_int("num_samples", num_samples, minimum=0)
    if num_examples is not None:
        num_examples = _positive_int("num_examples", num_examples)
    seed = _seed(seed)
    logs = evaluate_logs(
        model, x, labels, batch_size=batch_size, verbose=verbose
    )
    result = {
        "negative_elbo": logs["reconstruction_loss"] + logs["kl_loss"],
        "reconstruction_loss": logs["reconstruction_loss"],
        "kl_loss": logs["kl_loss"],
    }
    for name, value in logs.items():
        if name.startswith("kl_loss_") or name in ("mse", "ssim", "psnr"):
            result[name] = value
    if num_samples:
        subset, subset_labels = x, labels
        if num_examples is not None and num_examples < len(x):
            rng = np.random.default_rng(seed)
            chosen = rng.choice(len(x), size=num_examples, replace=False)
            chosen = np.sort(chosen)
            subset = x[chosen]
            if labels is not None:
                subset_labels = np.asarray(labels)[chosen]
        result["iwae_nll"] = importance_weighted_nll(
            model,
            subset,
            num_samples=num_samples,
            seed=seed,
            verbose=verbose,
            labels=subset_labels,
        )
        result["iwae_samples"] = int(num_samples)
        result["iwae_examples"] = int(len(subset))
    return result
