"""`train_step`/`test_step` for the TensorFlow backend (a `GradientTape`).

Under a `tf.distribute` strategy Keras runs the step once per replica, each
on its slice of the batch: the loss is scaled for the summed gradients, the
metric trackers sum their totals across replicas, and each replica draws its
own `eps` (see `_replica_noise`).
"""

import contextlib

import tensorflow as tf
from keras.src.losses.loss import scale_loss_for_distribution

from kvae import gradient_skip

# Offset of each replica's seed; any non-zero value gives another stream.
_REPLICA_SEED_STRIDE = 1_000_003


class VAETrainer:
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        strategy = self._distribute_strategy
        if strategy is not None:
            # Keras builds a model in the strategy it was created in
            # (`_maybe_symbolic_build`), but kvae builds it in `fit` before
            # that, outside the user's `with strategy.scope():`. Variables
            # made there would not be mirrored.
            build = self.build

            def build_in_scope(*args, **kwargs):
                with strategy.scope():
                    build(*args, **kwargs)

            self.build = build_in_scope

    def train_step(self, data):
        x = self.unpack_images(data)
        with tf.GradientTape() as tape, _replica_noise(self):
            loss, aux = self.compute_elbo(x, training=True)
            # Under tf.distribute each replica's gradient is summed, so the
            # loss is divided by the number of replicas (a no-op otherwise).
            scaled_loss = self.optimizer.scale_loss(
                scale_loss_for_distribution(loss)
            )
        gradients = tape.gradient(scaled_loss, self.trainable_weights)
        self._apply_or_skip(gradients)
        logs = self.update_trackers(x, loss, aux, training=True)
        return _reducible_across_workers(
            self, gradient_skip.with_count(self, logs)
        )

    def _apply_or_skip(self, gradients):
        def apply():
            self.optimizer.apply_gradients(
                zip(gradients, self.trainable_weights)
            )

        if self.skip_gradient_norm is None:
            return apply()
        if self._distribute_strategy is not None:
            raise ValueError(
                "skip_gradient_norm is not supported under a tf.distribute "
                "strategy (the optimizer's cross-replica update cannot run "
                "inside a condition). Train on one device, or use the JAX "
                "or torch backend, or pass skip_gradient_norm=None."
            )

        def skip():
            self.skipped_updates.assign_add(1.0)

        tf.cond(gradient_skip.update_allowed(self, gradients), apply, skip)

    def test_step(self, data):
        x = self.unpack_images(data)
        with _replica_noise(self):
            loss, aux = self.compute_elbo(x, training=False)
        logs = self.update_trackers(x, loss, aux)
        return _reducible_across_workers(self, logs)


def _reducible_across_workers(model, logs):
    """The logs as 1-element vectors under a multi-worker strategy.

    Keras 3.15 reduces the logs of a `MultiWorkerMirroredStrategy` with
    `strategy.reduce("MEAN", value, axis=0)`, which fails for scalars
    ("Invalid reduction dimension 0 for input with 0 dimensions"). Every
    replica holds the same global means (the trackers are synchronized),
    so the mean over replicas of the 1-element vectors is that scalar.
    """
    strategy = model.distribute_strategy
    multi_worker = (
        isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
        and strategy.extended._in_multi_worker_mode()
    )
    if not multi_worker:
        return logs
    return {name: tf.reshape(value, [1]) for name, value in logs.items()}


@contextlib.contextmanager
def _replica_noise(model):
    """Gives each replica of a strategy its own `eps` for one step.

    The `SeedGenerator` state is mirrored, so without this every replica
    would draw the same noise for its slice of the batch. Inside the step
    each replica's copy of the seed (not the counter) is offset by its
    replica id, then restored; the counters advance alike, so the copies
    agree again after the step. A no-op on one device.
    """
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        yield
        return
    state = model.seed_generator.state
    replica = tf.cast(context.replica_id_in_sync_group, state.dtype)
    offset = tf.stack([replica * _REPLICA_SEED_STRIDE, tf.zeros_like(replica)])
    state.assign(state + offset)
    try:
        yield
    finally:
        state.assign(state - offset)


def compile_inference(model, fn):
    """Traces `fn` once per input signature with `tf.function`."""
    del model
    return tf.function(fn, reduce_retracing=True)
