"""Training one run: the model, the optimizer and `train_and_evaluate`."""

import contextlib
import math
import os
import time

import keras
import numpy as np

from kvae import distribution
from kvae import evaluation
from kvae import layers
from kvae import precision
from kvae import priors
from kvae.experiment.callbacks import StopOnDivergence
from kvae.experiment.callbacks import TrainTimer
from kvae.experiment.callbacks import check_tensorboard
from kvae.experiment.callbacks import make_callbacks
from kvae.experiment.combinations import hierarchy
from kvae.experiment.combinations import latent_text
from kvae.experiment.conditional import conditional_results
from kvae.experiment.conditional import num_classes
from kvae.experiment.data import load_data
from kvae.experiment.errors import RunError
from kvae.experiment.generation import score_generation
from kvae.experiment.preflight import check_before_data
from kvae.experiment.report import files_written
from kvae.experiment.report import plot_latent_pca
from kvae.experiment.report import prepare_output
from kvae.experiment.report import run_metrics
from kvae.experiment.report import save_model
from kvae.experiment.report import summary_text
from kvae.models import ConditionalHierarchicalVAE
from kvae.models import ConditionalVAE
from kvae.models import HierarchicalVAE
from kvae.utils import platform_info
from kvae.utils import write_json
from kvae.utils.files import partial_name
from kvae.utils.files import publish
from kvae.vae import VAE


def build_model(config, image_shape, steps_per_epoch=1, classes=None):
    """The `kvae.VAE` or `kvae.HierarchicalVAE` (with `config.conditional`
    a `kvae.ConditionalVAE` or `kvae.ConditionalHierarchicalVAE` of
    `classes` classes) of
    `config` for images of `image_shape`, with its KL warm-up counted in
    steps of `steps_per_epoch`."""
    filters = tuple(config.filters)
    prior = config.prior
    if config.prior_components is not None:
        prior = priors.PRIORS[prior](num_components=config.prior_components)
    kwargs = dict(
        likelihood=config.likelihood,
        sigma=config.sigma,
        beta=config.beta,
        prior=prior,
        objective=config.objective,
        num_samples=config.num_samples,
        free_bits=config.free_bits,
        kl_warmup_steps=round(config.kl_warmup_epochs * steps_per_epoch),
        skip_gradient_norm=config.skip_gradient_norm,
        seed=config.seed,
    )
    if config.model == "hierarchical":
        resolutions, groups = hierarchy(config)
        encoder = layers.HierarchicalEncoder(
            resolutions,
            width=config.width,
            activation=config.block_activation,
        )
        decoder = layers.HierarchicalDecoder(
            image_shape,
            resolutions,
            groups=groups,
            latent_channels=config.latent_channels,
            width=config.width,
            activation=config.block_activation,
        )
        if config.conditional:
            return ConditionalHierarchicalVAE(
                encoder, decoder, classes, **kwargs
            )
        return HierarchicalVAE(encoder, decoder, **kwargs)
    if config.model == "conv":
        encoder = layers.ConvEncoder(
            config.latent_dim, filters=filters, dense_units=config.dense_units
        )
        decoder = layers.ConvDecoder(
            image_shape, filters=filters[::-1], dense_units=config.dense_units
        )
    else:
        encoder = layers.ResidualEncoder(config.latent_dim, filters=filters)
        decoder = layers.ResidualDecoder(image_shape, filters=filters[::-1])
    if config.conditional:
        return ConditionalVAE(encoder, decoder, classes, **kwargs)
    return VAE(encoder, decoder, **kwargs)


def build_optimizer(config, steps_per_epoch):
    """Adam or AdamW, with the cosine decay, clipping and weight averaging
    of `config`."""
    learning_rate = config.learning_rate
    if config.final_learning_rate is not None:
        learning_rate = keras.optimizers.schedules.CosineDecay(
            config.learning_rate,
            decay_steps=max(1, config.epochs * steps_per_epoch),
            alpha=config.final_learning_rate / config.learning_rate,
        )
    kwargs = {"learning_rate": learning_rate}
    if config.global_clipnorm is not None:
        kwargs["global_clipnorm"] = config.global_clipnorm
    if config.ema_momentum is not None:
        kwargs.update(use_ema=True, ema_momentum=config.ema_momentum)
    if config.optimizer == "adamw":
        return keras.optimizers.AdamW(
            weight_decay=config.weight_decay, **kwargs
        )
    return keras.optimizers.Adam(**kwargs)


def distribution_scope(config):
    """The context in which the model and optimizer are created.

    `config.distribute` names a `kvae.distribution` strategy ("none",
    "data_parallel", "model_parallel"), as the `--distribute` flag sets
    it; `None` trains on one device. The strategy is created at once, so
    one that this backend lacks fails here; enter the returned context
    later, around the creation of the model.
    """
    return distribution.scope(distribution.get(config.distribute))


def precision_text(requested, policy, reason):
    """The line a run prints about its precision: `"precision: auto ->
    mixed_bfloat16 (CPU has AMX-BF16, backend tensorflow)"`, or
    `"precision: float32"` when it was given."""
    if requested == policy:
        return f"precision: {policy}"
    return f"precision: {requested} -> {policy} ({reason})"


def train_and_evaluate(config, announce=True):
    """Trains the model of `config`, evaluates it, and writes every file.

    Returns:
        dict: the contents of metrics.json, plus `history` (the Keras
        history dict).
    """
    # The output folder's lock (see `prepare_output`) is held to the end.
    with contextlib.ExitStack() as held:
        return _train_and_evaluate(config, announce, held)


def _train_and_evaluate(config, announce, held):
    start = time.perf_counter()
    keras.utils.set_random_seed(config.seed)
    # The source that runs: metrics.json reports it after training.
    platform_info.source_commit()
    # Resolved first: a strategy this backend lacks fails before any work.
    strategy_scope = distribution_scope(config)
    policy, reason = precision.resolve_policy(config.precision)
    check_tensorboard(config)
    # Several processes train together under a multi-process launch; only
    # process 0 writes, the others never open the output folder.
    writer = distribution.process_index() == 0
    check_before_data(config, writer)
    data = load_data(config)
    announce = announce and writer
    # Created once the data is found: a run that cannot start leaves none.
    out = config.out
    if writer:
        lock = prepare_output(out, overwrite=config.overwrite)
        deleted = held.enter_context(lock).deleted
    if announce:
        print(
            f"Writing into {os.path.abspath(out)}"
            + (
                f" (deleted the previous run's {', '.join(deleted)})."
                if deleted
                else "."
            )
        )
    if announce:
        print(precision_text(config.precision, policy, reason))
    steps_per_epoch = math.ceil(data.num_train / config.batch_size)
    # Layers take the global policy when they are created.
    previous_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    # Seeded again here: what ran since the first seeding (loading the
    # feature model, the data pipeline) draws from the same generators, so
    # without this a run's initial weights would depend on its other flags.
    keras.utils.set_random_seed(config.seed)
    try:
        with strategy_scope:
            model = build_model(
                config, data.image_shape, steps_per_epoch, num_classes(data)
            )
            model.compile(optimizer=build_optimizer(config, steps_per_epoch))
    finally:
        keras.config.set_dtype_policy(previous_policy)
    timer = TrainTimer()
    history_path = os.path.join(out, "history.csv")
    history_tmp = os.path.join(out, partial_name("history.csv") + "csv")
    divergence = StopOnDivergence()
    fit_callbacks = [timer, divergence]
    if config.ema_momentum is not None:
        # After the timer (the swap is not training) and before the
        # pictures: validation and every epoch-end callback see the averaged
        # weights, and the last epoch leaves them in the model.
        fit_callbacks.append(keras.callbacks.SwapEMAWeights(swap_on_epoch=True))
    if writer:
        fit_callbacks += [
            keras.callbacks.CSVLogger(history_tmp),
            *make_callbacks(config, data, out),
        ]
    if announce:
        print(
            f"Training {config.name}: {data.num_train} training images "
            f"({config.dataset} {config.splits[0]}), {len(data.x_test)} test "
            f"images ({config.splits[1]}); {latent_text(config)}, "
            f"{config.epochs} epochs, backend {keras.backend.backend()}."
        )
    # kvae.VAE.fit decides the shuffling (arrays yes, tf.data no); only
    # arrays take a batch size, a pipeline comes batched.
    fit_kwargs = {}
    if isinstance(data.train, (np.ndarray, tuple)):
        fit_kwargs = {"batch_size": config.batch_size}
    labels = data.y_test if config.conditional else None
    validation = (data.x_test,) if labels is None else (data.x_test, labels)
    fit_start = time.perf_counter()
    try:
        history = model.fit(
            data.train,
            epochs=config.epochs,
            validation_data=validation,
            validation_batch_size=config.batch_size,
            callbacks=fit_callbacks,
            verbose=config.verbose,
            **fit_kwargs,
        )
    finally:
        if writer and os.path.exists(history_tmp):
            publish(history_tmp, history_path)
    fit_seconds = time.perf_counter() - fit_start
    if divergence.diverged is not None:
        epoch, name, value = divergence.diverged
        raise RunError(
            f"Training diverged: {name} was {value} at epoch {epoch} of "
            f"{config.epochs}, so training stopped. Kept: history.csv and "
            "the GIFs up to that epoch; no model.keras or metrics.json was "
            "written. Lower the learning rate (--learning-rate, now "
            f"{config.learning_rate}) or clip the gradients "
            "(--global-clipnorm 1.0)."
        )
    # Saved before anything that could still fail (evaluation, plots).
    if writer:
        save_model(model, os.path.join(out, "model.keras"))

    if announce and config.iwae_samples:
        count = min(len(data.x_test), config.iwae_examples or len(data.x_test))
        print(
            f"Estimating -log p(x) with k={config.iwae_samples} importance "
            f"samples on {count} test images ({count * config.iwae_samples:,} "
            "decoder passes; --iwae-samples 0 skips this).",
            flush=True,
        )
    test = evaluation.evaluate(
        model,
        data.x_test,
        num_samples=config.iwae_samples,
        num_examples=config.iwae_examples,
        # The batch size of validation: the test step is compiled already.
        batch_size=config.batch_size,
        seed=config.seed,
        verbose=config.verbose if announce else 0,
        labels=labels,
    )
    metrics = run_metrics(
        config,
        data,
        test,
        timer.epoch_seconds,
        fit_seconds,
        precision=(policy, reason),
    )
    if not writer:
        metrics["history"] = history.history
        return metrics
    if config.conditional:
        metrics.update(conditional_results(model, config, data, out))
    elif config.score_images:
        metrics["generation"] = score_generation(
            model,
            config,
            data.x_test,
            out,
            verbose=config.verbose,
            # An array is what load_train_arrays would decode again (the
            # unaugmented, unbinarized split); a pipeline is not.
            x_train=data.train if isinstance(data.train, np.ndarray) else None,
        )
    if "latent_pca" in config.plots and not config.conditional:
        plot_latent_pca(
            model,
            data.x_test,
            data.y_test,
            os.path.join(out, "latent_pca.png"),
            class_names=data.class_names,
        )
    metrics["wall_time_s"] = time.perf_counter() - start
    metrics["files"] = sorted(set(files_written(out)) | {"metrics.json"})
    write_json(os.path.join(out, "metrics.json"), metrics)
    if announce:
        print(summary_text(out, metrics))
    metrics["history"] = history.history
    return metrics
