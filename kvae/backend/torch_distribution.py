"""Data-parallel training across processes on PyTorch: `torch.distributed`.

Keras 3 has no multi-device engine for torch, so kvae uses torch's own
collectives, one process per device, as `torchrun` starts them
(`RANK`, `WORLD_SIZE`, `LOCAL_RANK`, `MASTER_ADDR`, `MASTER_PORT`). Every
process is handed the same global batch by `fit` (the same data and the
same shuffling seed), keeps its own slice, and in the train step:

1. the first step copies rank 0's variables to every process (weights,
   optimizer slots, seed states), then offsets each process's noise seed
   by its rank, so each process draws its own `eps`;
2. the gradients of the local mean loss are weighted by the local share of
   the batch and summed across processes in one `all_reduce`, which gives
   the gradient of the global mean loss; the same `all_reduce` averages
   what the step changed in the float non-trainable variables (BatchNorm
   moving statistics, the running sigma of `sigma="optimal"`), so every
   process keeps the same state;
3. what each process added to the metric trackers (totals and counts) is
   summed across processes, so every process logs the global means.

`VAETrainer` in `kvae/backend/torch.py` calls these through `ProcessGroup`.
"""

import contextlib
import datetime
import os

import keras
import torch
import torch.distributed as dist

# What torchrun sets in each process; all are needed to join the group.
LAUNCH_VARIABLES = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
# Offset of each process's noise seed; any non-zero value gives another
# stream (the same stride as the replicas of a tf.distribute strategy).
_RANK_SEED_STRIDE = 1_000_003

_MODEL_PARALLEL_MESSAGE = (
    "kvae supports model parallelism on JAX only (keras.distribution). On "
    "torch use data_parallel() under torchrun, or KERAS_BACKEND=jax. See "
    "docs/distribution.md."
)

# The group a model created in `ProcessGroup.scope()` trains with.
_CURRENT = [None]


class ProcessGroup:
    """Data parallelism over the processes of a `torch.distributed` group.

    Made by `kvae.distribution.data_parallel()` under torchrun. A model
    created inside `scope()` trains with it; others train alone.
    """

    def __init__(self, timeout):
        self.rank = dist.get_rank()
        self.world_size = dist.get_world_size()
        self.timeout = timeout

    @contextlib.contextmanager
    def scope(self):
        previous = _CURRENT[0]
        _CURRENT[0] = self
        try:
            yield self
        finally:
            _CURRENT[0] = previous

    def sync_initial_state(self, model):
        """Rank 0's variables everywhere, then each rank's own noise."""
        variables = list(model.variables)
        if model.optimizer is not None and model.optimizer.built:
            variables += list(model.optimizer.variables)
        with torch.no_grad():
            for variable in variables:
                value = variable.value.detach().clone()
                self._collective(dist.broadcast, value, src=0)
                variable.assign(value)
            state = model.seed_generator.state
            offset = torch.tensor(
                [self.rank * _RANK_SEED_STRIDE, 0],
                dtype=state.value.dtype,
                device=state.value.device,
            )
            state.assign(state.value + offset)

    def shard(self, x):
        """This process's slice of the global batch `x`, and its share of
        the batch (the weight of its mean loss in the global mean)."""
        n = int(x.shape[0])
        if n < self.world_size:
            raise ValueError(
                f"A batch of {n} examples cannot be split across "
                f"{self.world_size} processes. Use a batch size (and a "
                "number of examples modulo the batch size) of at least the "
                "number of processes, or drop the last partial batch."
            )
        start = n * self.rank // self.world_size
        stop = n * (self.rank + 1) // self.world_size
        return x[start:stop], (stop - start) / n

    def state_before_step(self, model):
        """The float non-trainable variables of `model` and their values
        now, before a step changes them (for `sum_gradients`).

        Integer state (the seed generators' states) is left out: each
        process keeps its own noise stream.
        """
        variables = [
            v
            for v in model.non_trainable_variables
            if keras.backend.is_float_dtype(v.dtype)
        ]
        return variables, [v.value.detach().clone() for v in variables]

    def sum_gradients(self, gradients, weight, state=None):
        """`sum over processes of weight * gradient`, in one `all_reduce`.

        With `state` (from `state_before_step`), the same `all_reduce`
        also replaces what the step changed in each of those variables by
        the mean change over the processes. Averaging changes, not values,
        keeps a counter that every process advanced alike exact.
        """
        variables, before = state if state is not None else ((), ())
        present = [g for g in gradients if g is not None]
        changes = [
            (v.value.detach() - b).reshape(-1)
            for v, b in zip(variables, before)
        ]
        if not present and not changes:
            return gradients
        size = sum(g.numel() for g in present)
        flat = torch.cat([g.reshape(-1) for g in present] + changes)
        flat[:size] *= weight
        self._collective(dist.all_reduce, flat)
        result, offset = [], 0
        for g in gradients:
            if g is None:
                result.append(None)
                continue
            part = flat[offset : offset + g.numel()]
            result.append(part.view_as(g).to(g.dtype))
            offset += g.numel()
        mean_changes = flat[size:] / self.world_size
        offset = 0
        with torch.no_grad():
            for variable, b in zip(variables, before):
                change = mean_changes[offset : offset + b.numel()]
                variable.assign(b + change.view(b.shape).to(b.dtype))
                offset += b.numel()
        return result

    def metric_state(self, model):
        return [v.value.detach().clone() for v in model.metrics_variables]

    def sum_metric_updates(self, model, before):
        """Replaces each process's tracker updates by their sum over the
        processes; returns the logs of the global means."""
        variables = model.metrics_variables
        if variables:
            deltas = torch.cat(
                [
                    (v.value.detach() - b).reshape(-1).to(torch.float64)
                    for v, b in zip(variables, before)
                ]
            )
            self._collective(dist.all_reduce, deltas)
            offset = 0
            with torch.no_grad():
                for variable, b in zip(variables, before):
                    n = b.numel()
                    delta = deltas[offset : offset + n].view(b.shape)
                    variable.assign(b + delta.to(b.dtype))
                    offset += n
        return model.get_metrics_result()

    def _collective(self, operation, *args, **kwargs):
        try:
            operation(*args, **kwargs)
        except RuntimeError as error:
            raise RuntimeError(
                f"Process {self.rank} of {self.world_size}: a collective "
                "with the other processes failed, so one of them died or "
                f"did not answer within {self.timeout:g} s (the timeout, "
                "KVAE_DISTRIBUTED_TIMEOUT). Training stops here; look at "
                "the other processes' logs for the cause, then restart "
                f"every process. ({type(error).__name__}: {error})"
            ) from error


def current():
    """The `ProcessGroup` whose `scope()` is open, or `None`."""
    return _CURRENT[0]


def launched():
    """Whether torchrun's variables name a group of processes."""
    return all(name in os.environ for name in LAUNCH_VARIABLES)


def data_parallel(devices=None, timeout=None):
    if devices is not None:
        raise ValueError(
            "On torch each process trains on one device (its LOCAL_RANK's "
            "GPU, or the CPU); `devices` cannot be given. Choose the "
            "processes with torchrun --nproc-per-node."
        )
    if not launched():
        raise RuntimeError(
            "On torch, kvae trains on several devices with one process per "
            "device, started by torchrun: for example `torchrun "
            "--nproc-per-node 2 recipes/kmnist.py --distribute "
            "data_parallel`. This process lacks torchrun's variables "
            f"({', '.join(v for v in LAUNCH_VARIABLES if v not in os.environ)}"
            "). See docs/distribution.md."
        )
    if not dist.is_initialized():
        backend = "gloo"
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
            backend = "nccl"
        dist.init_process_group(
            backend, timeout=datetime.timedelta(seconds=timeout)
        )
    group = ProcessGroup(timeout)
    _share_random_seed(group)
    return group


def _share_random_seed(group):
    """Rank 0's seed in every process, unless the user set one.

    `fit` shuffles arrays with NumPy's global generator; every process must
    draw the same order, or the slices would not partition the batches.
    """
    from keras.src.utils import rng_utils

    seed = rng_utils.get_random_seed()
    value = torch.tensor(
        [seed if seed is not None else int.from_bytes(os.urandom(3), "big")],
        dtype=torch.int64,
        device="cuda" if dist.get_backend() == "nccl" else "cpu",
    )
    dist.broadcast(value, src=0)
    if seed is None or int(value) != seed:
        keras.utils.set_random_seed(int(value))


def model_parallel(model_parallel, devices, layout_map, default_layout_map):
    raise NotImplementedError(_MODEL_PARALLEL_MESSAGE)


def num_replicas(distribution):
    return int(distribution.world_size)


def process_index():
    return dist.get_rank() if dist.is_initialized() else 0


def process_count():
    return dist.get_world_size() if dist.is_initialized() else 1


def device_platform():
    return "cuda" if torch.cuda.is_available() else "cpu"


def gpu():
    """`(name, bfloat16)` of the GPU torch computes on, or `None` on CPU.

    bfloat16 counts only where the GPU computes in it natively (compute
    capability 8.0 on, or ROCm), not where torch would emulate it.
    """
    if not torch.cuda.is_available():
        return None
    return (
        torch.cuda.get_device_name(),
        torch.cuda.is_bf16_supported(including_emulation=False),
    )
