"""`train_step`/`test_step` for the JAX backend: pure functions of the state.

Keras hands the JAX step the model's variables as arrays and expects the
updated arrays back. Inside, `keras.StatelessScope` maps each `keras.Variable`
to its array, so the backend-neutral `VAE.compute_elbo` runs unchanged; every
assignment it makes (the `SeedGenerator` state, BatchNorm statistics, the KL
warm-up counter) is read back out of the scope and returned in the new state.
Without that, `eps` would be the same at every step.
"""

import jax
import jax.numpy as jnp
import keras

from kvae import gradient_skip
from kvae.backend import jax_distribution


def _collect(scope, variables, fallback_values):
    """The values `variables` have at the end of `scope`."""
    values = []
    for variable, fallback in zip(variables, fallback_values):
        value = scope.get_current_value(variable)
        values.append(fallback if value is None else value)
    return values


class VAETrainer:
    # Keras splits only a `tf.data` pipeline across processes; arrays
    # become one when a distribution spans several processes.
    def fit(self, x=None, y=None, validation_data=None, **kwargs):
        if not jax_distribution.multi_process():
            return super().fit(x, y, validation_data=validation_data, **kwargs)
        with jax_distribution.failures_explained():
            return self._fit_across_processes(x, y, validation_data, kwargs)

    def _fit_across_processes(self, x, y, validation_data, kwargs):
        batch_size = kwargs.pop("batch_size", None)
        local = jax_distribution.as_global_batches(
            x, batch_size, kwargs.pop("shuffle", True)
        )
        if isinstance(validation_data, tuple) and local is not None:
            validation_data = jax_distribution.as_global_batches(
                validation_data[0],
                kwargs.pop("validation_batch_size", None) or batch_size,
                False,
            )
        if local is None:
            return super().fit(x, y, validation_data=validation_data, **kwargs)
        with jax_distribution.sharded_by_kvae():
            return super().fit(
                local, validation_data=validation_data, shuffle=False, **kwargs
            )

    def evaluate(self, x=None, y=None, **kwargs):
        if not jax_distribution.multi_process():
            return super().evaluate(x, y, **kwargs)
        with jax_distribution.failures_explained():
            return self._evaluate_across_processes(x, y, kwargs)

    def _evaluate_across_processes(self, x, y, kwargs):
        batch_size = kwargs.pop("batch_size", None)
        local = jax_distribution.as_global_batches(x, batch_size, False)
        if local is None:
            return super().evaluate(x, y, batch_size=batch_size, **kwargs)
        with jax_distribution.sharded_by_kvae():
            return super().evaluate(local, **kwargs)

    def save(self, *args, **kwargs):
        if not jax_distribution.multi_process():
            return super().save(*args, **kwargs)
        with jax_distribution.saving_in_one_process(self):
            return super().save(*args, **kwargs)

    def stateless_elbo(
        self,
        trainable_variables,
        non_trainable_variables,
        x,
        training=False,
        optimizer_variables=None,
    ):
        """`compute_elbo` as a pure function, for `jax.value_and_grad`."""
        mapping = list(zip(self.trainable_variables, trainable_variables))
        mapping += list(
            zip(self.non_trainable_variables, non_trainable_variables)
        )
        with keras.StatelessScope(
            state_mapping=mapping, collect_losses=True
        ) as scope:
            loss, aux = self.compute_elbo(x, training=training)
        non_trainable_variables = _collect(
            scope, self.non_trainable_variables, non_trainable_variables
        )
        scaled_loss = loss
        if training and self.optimizer is not None:
            # The loss scale of mixed_float16 is an optimizer variable.
            with keras.StatelessScope(
                state_mapping=list(
                    zip(self.optimizer.variables, optimizer_variables)
                )
            ):
                scaled_loss = self.optimizer.scale_loss(loss)
        return scaled_loss, (loss, aux, non_trainable_variables)

    def stateless_update_trackers(
        self, metrics_variables, x, loss, aux, training=False
    ):
        with keras.StatelessScope(
            state_mapping=list(zip(self.metrics_variables, metrics_variables))
        ) as scope:
            logs = self.update_trackers(x, loss, aux, training=training)
        return logs, _collect(scope, self.metrics_variables, metrics_variables)

    def train_step(self, state, data):
        (
            trainable_variables,
            non_trainable_variables,
            optimizer_variables,
            metrics_variables,
        ) = state
        x = self.unpack_images(data)
        grad_fn = jax.value_and_grad(self.stateless_elbo, has_aux=True)
        (_, (loss, aux, non_trainable_variables)), gradients = grad_fn(
            trainable_variables,
            non_trainable_variables,
            x,
            training=True,
            optimizer_variables=optimizer_variables,
        )
        updated = self.optimizer.stateless_apply(
            optimizer_variables, gradients, trainable_variables
        )
        count = None
        if self.skip_gradient_norm is not None:
            allowed = gradient_skip.update_allowed(self, gradients)
            updated = jax.tree_util.tree_map(
                lambda new, old: jnp.where(allowed, new, old),
                updated,
                (trainable_variables, optimizer_variables),
            )
            non_trainable_variables, count = _count_skip(
                self, non_trainable_variables, allowed
            )
        trainable_variables, optimizer_variables = updated
        logs, metrics_variables = self.stateless_update_trackers(
            metrics_variables, x, loss, aux, training=True
        )
        logs = gradient_skip.with_count(self, logs, count)
        return logs, (
            trainable_variables,
            non_trainable_variables,
            optimizer_variables,
            metrics_variables,
        )

    def test_step(self, state, data):
        (
            trainable_variables,
            non_trainable_variables,
            metrics_variables,
        ) = state
        x = self.unpack_images(data)
        _, (loss, aux, non_trainable_variables) = self.stateless_elbo(
            trainable_variables, non_trainable_variables, x, training=False
        )
        logs, metrics_variables = self.stateless_update_trackers(
            metrics_variables, x, loss, aux
        )
        return logs, (
            trainable_variables,
            non_trainable_variables,
            metrics_variables,
        )


def _count_skip(model, non_trainable_variables, allowed):
    """The variables with `skipped_updates` advanced unless `allowed`."""
    values = list(non_trainable_variables)
    for i, variable in enumerate(model.non_trainable_variables):
        if variable is model.skipped_updates:
            values[i] = values[i] + jnp.where(allowed, 0.0, 1.0)
            return values, values[i]
    raise AssertionError("skipped_updates is not a model variable")


def compile_inference(model, fn):
    """Compiles `fn` once with `jax.jit`, as a pure function of the weights.

    The returned callable reads the model's current variable values at each
    call, so it sees training progress without being traced again.
    """

    def stateless_fn(trainable_values, non_trainable_values, *args):
        mapping = list(zip(model.trainable_variables, trainable_values))
        mapping += list(
            zip(model.non_trainable_variables, non_trainable_values)
        )
        with keras.StatelessScope(state_mapping=mapping):
            return fn(*args)

    jitted = jax.jit(stateless_fn)

    def inference(*args):
        # Under several processes, each computes on its own copy of the
        # replicated weights: process 0 alone draws the GIFs.
        local = jax_distribution.process_local
        return jitted(
            [local(v.value) for v in model.trainable_variables],
            [local(v.value) for v in model.non_trainable_variables],
            *args,
        )

    return inference
