"""`train_step`/`test_step` for the PyTorch backend (`loss.backward()`).

A model created in the `scope()` of `kvae.distribution.data_parallel()`
under torchrun trains on its process's slice of each batch, with the
gradients and metric updates summed across processes, and the changes of
its float non-trainable variables averaged
(`kvae/backend/torch_distribution.py`).
"""

import torch

from kvae import gradient_skip
from kvae.backend import torch_distribution


class VAETrainer:
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._process_group = torch_distribution.current()
        self._process_group_synced = False

    # Keras's torch trainer refuses `steps_per_execution > 1`, although its
    # epoch iterator already hands the step function a list of that many
    # batches; these two methods run them in turn.
    def make_train_function(self, force=False):
        if self.train_function is None or force:
            self.train_function = _multi_step(self.train_step)
        return self.train_function

    def make_test_function(self, force=False):
        if self.test_function is None or force:
            self.test_function = torch.no_grad()(_multi_step(self.test_step))
        return self.test_function

    def train_step(self, data):
        x, weight, group = self._local_batch(data)
        x = _avoid_batch_of_one(x)
        state = None if group is None else group.state_before_step(self)
        self.zero_grad()
        loss, aux = self.compute_elbo(x, training=True)
        self.optimizer.scale_loss(loss).backward()
        trainable_weights = self.trainable_weights[:]
        gradients = [v.value.grad for v in trainable_weights]
        if group is not None:
            gradients = group.sum_gradients(gradients, weight, state)
        with torch.no_grad():
            if gradient_skip.update_allowed(self, gradients):
                self.optimizer.apply(gradients, trainable_weights)
            else:
                self.skipped_updates.assign_add(1.0)
        logs = self._logs(group, x, loss, aux, training=True)
        return gradient_skip.with_count(self, logs)

    def test_step(self, data):
        x, _, group = self._local_batch(data)
        loss, aux = self.compute_elbo(x, training=False)
        return self._logs(group, x, loss, aux)

    def _local_batch(self, data):
        """This process's slice of the batch, its share, and the group."""
        x = self.unpack_images(data)
        group = self._process_group
        if group is None:
            return x, 1.0, None
        if not self._process_group_synced:
            group.sync_initial_state(self)
            self._process_group_synced = True
        x, weight = group.shard(x)
        return x, weight, group

    def _logs(self, group, x, loss, aux, training=False):
        if group is None:
            return self.update_trackers(x, loss, aux, training=training)
        before = group.metric_state(self)
        self.update_trackers(x, loss, aux, training=training)
        return group.sum_metric_updates(self, before)


def _avoid_batch_of_one(x):
    """`x`, or a batch of one image doubled (two noise draws of it).

    On the CPU, torch 2.x fails in the backward pass of a convolution whose
    input is a channels-last view (as Keras passes it) with a batch of one
    and a kernel with one output channel ("slow_conv2d: grad_weight must be
    contiguous"); see docs/backends.md, "Known backend issues". The doubled
    batch has the same expected loss and gradient.
    """
    if x.shape[0] == 1 and x.device.type == "cpu":
        return torch.cat([x, x])
    return x


def _multi_step(step):
    def multi_step_on_data(batches):
        for batch in batches:
            logs = step(batch)
        return logs

    return multi_step_on_data


def compile_inference(model, fn):
    """Runs `fn` eagerly without recording gradients."""
    del model

    def inference(*args):
        with torch.no_grad():
            return fn(*args)

    return inference
