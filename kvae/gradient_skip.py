"""Skipping the updates whose gradient norm is an outlier (VDVAE).

Deep hierarchical VAEs occasionally produce a batch whose gradient is
orders of magnitude above the usual (a KL spike in one latent group);
clipping it still moves the weights a full step in a bad direction. VDVAE
skips such updates altogether: `kvae.VAE(skip_gradient_norm=t)` applies an
update only when the global norm of its gradients is finite and below `t`,
and counts the others in the model's non-trainable `skipped_updates`
weight, which `fit` logs. The decision is made here, once, for every
backend; each backend's `train_step` (`kvae.backend`) then applies or
skips the update its own way.
"""

from keras import ops

LOG_NAME = "skipped_updates"


def global_norm(gradients):
    """The L2 norm of all gradients together, a float32 scalar."""
    return ops.sqrt(
        sum(
            ops.sum(ops.square(ops.cast(g, "float32")))
            for g in gradients
            if g is not None
        )
    )


def update_allowed(model, gradients):
    """Whether the update of `gradients` is applied: always without a
    threshold, else a bool scalar tensor (finite norm below it)."""
    if model.skip_gradient_norm is None:
        return True
    norm = global_norm(gradients)
    return ops.logical_and(
        ops.isfinite(norm), ops.less(norm, model.skip_gradient_norm)
    )


def with_count(model, logs, count=None):
    """`logs` with the number of skipped updates so far, when counted."""
    if model.skip_gradient_norm is None:
        return logs
    logs = dict(logs)
    logs[LOG_NAME] = model.skipped_updates.value if count is None else count
    return logs
