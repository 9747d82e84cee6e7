"""Multi-device training on JAX: `keras.distribution`, which Keras
implements for JAX, on the devices of one process or of several.

Several processes are named by Keras's `KERAS_DISTRIBUTION_JOB_ADDRESSES`
(the coordinator first), `KERAS_DISTRIBUTION_NUM_PROCESSES` and
`KERAS_DISTRIBUTION_PROCESS_ID`. `data_parallel` then starts
`jax.distributed` with kvae's timeout (on CPU with gloo collectives) and
the mesh spans every process's devices. Keras shards only a `tf.data`
pipeline across processes, so `as_global_batches` turns arrays into one.
"""

import contextlib
import os

import jax
import keras
import numpy as np

LAUNCH_VARIABLES = (
    "KERAS_DISTRIBUTION_JOB_ADDRESSES",
    "KERAS_DISTRIBUTION_NUM_PROCESSES",
    "KERAS_DISTRIBUTION_PROCESS_ID",
)


def launched():
    """Whether Keras's variables name several processes."""
    return all(name in os.environ for name in LAUNCH_VARIABLES)


# The heartbeat timeout `initialize` gave `jax.distributed`, in seconds.
_HEARTBEAT_TIMEOUT = [None]


def initialize(timeout):
    """Joins the processes named by `KERAS_DISTRIBUTION_*`, once."""
    if jax.distributed.is_initialized():
        return
    from keras.src.backend.jax import distribution_lib

    if os.environ.get("JAX_PLATFORMS", "") == "cpu":
        # Cross-process collectives on CPU need an implementation; JAX's
        # CPU client has gloo built in.
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    addresses = os.environ["KERAS_DISTRIBUTION_JOB_ADDRESSES"].split(",")
    jax.distributed.initialize(
        coordinator_address=addresses[0],
        num_processes=int(os.environ["KERAS_DISTRIBUTION_NUM_PROCESSES"]),
        process_id=int(os.environ["KERAS_DISTRIBUTION_PROCESS_ID"]),
        initialization_timeout=int(timeout),
        heartbeat_timeout_seconds=max(1, int(timeout)),
    )
    _HEARTBEAT_TIMEOUT[0] = max(1, int(timeout))
    # As keras.distribution.initialize: one random seed in every process.
    distribution_lib.initialize_rng()


@contextlib.contextmanager
def failures_explained():
    """Adds to a JAX runtime error of a computation that spans processes
    what a lost process means.

    A process that dies closes its sockets, so a collective with it fails
    at once with a `JaxRuntimeError` (gloo: "Connection reset by peer").
    JAX then aborts this process at exit, once its coordination service
    has missed the dead process's heartbeats; a stopped process is found
    by the heartbeats alone, and the abort comes without a Python error.
    JAX 0.10.2 offers no way to turn that abort into an exception (its
    client's `missed_heartbeat_callback` fails with `std::bad_cast`).
    """
    try:
        yield
    except jax.errors.JaxRuntimeError as error:
        timeout = _HEARTBEAT_TIMEOUT[0]
        within = "" if timeout is None else f" for {timeout} s"
        error.add_note(
            f"kvae: this is process {jax.process_index()} of "
            f"{jax.process_count()} (jax.distributed). If another process "
            "died, this is how a collective with it fails; JAX then ends "
            "this process too (SIGABRT) once its coordination service has "
            f"missed that process's heartbeats{within} (the timeout, "
            "KVAE_DISTRIBUTED_TIMEOUT). Look at the other processes' logs "
            "for the cause, then restart every process."
        )
        raise


def data_parallel(devices=None, timeout=None):
    if launched():
        initialize(timeout)
    distribution = keras.distribution.DataParallel(devices=_devices(devices))
    keras.distribution.set_distribution(distribution)
    return distribution


def model_parallel(model_parallel, devices, layout_map, default_layout_map):
    if layout_map is None:
        devices = _devices(devices)
        model_parallel = int(model_parallel)
        if model_parallel < 1 or len(devices) % model_parallel:
            raise ValueError(
                f"`model_parallel` must divide the number of devices "
                f"({len(devices)}); got {model_parallel}."
            )
        mesh = keras.distribution.DeviceMesh(
            shape=(len(devices) // model_parallel, model_parallel),
            axis_names=("batch", "model"),
            devices=devices,
        )
        layout_map = default_layout_map(mesh)
    distribution = keras.distribution.ModelParallel(
        layout_map=layout_map, batch_dim_name="batch"
    )
    keras.distribution.set_distribution(distribution)
    return distribution


def num_replicas(distribution):
    mesh = distribution.device_mesh
    return int(mesh.shape[mesh.axis_names.index(distribution.batch_dim_name)])


def device_platform():
    return str(jax.devices()[0].platform)


def gpu():
    """`(name, bfloat16)` of the GPU JAX computes on, or `None` on CPU.

    bfloat16 is native from CUDA compute capability 8.0 (Ampere) on; a GPU
    whose capability JAX does not report counts as lacking it.
    """
    device = jax.devices()[0]
    if device.platform != "gpu":
        return None
    capability = str(getattr(device, "compute_capability", "0"))
    try:
        major = int(capability.split(".")[0])
    except ValueError:
        major = 0
    return str(device.device_kind), major >= 8


def _devices(devices):
    if devices is None:
        return keras.distribution.list_devices()
    return list(devices)


def process_index():
    return jax.process_index()


def process_count():
    return jax.process_count()


def multi_process():
    """Whether a distribution spans several processes."""
    return (
        jax.process_count() > 1
        and keras.distribution.distribution() is not None
    )


def as_global_batches(x, batch_size, shuffle):
    """Arrays `x` as a `tf.data` pipeline of this process's slices of the
    global batches (`None` for anything else: use it as it is).

    Every process builds the same global batches (the shuffling seed is
    Keras's global seed, which `initialize` made the same everywhere) and
    keeps its even slice of each, the last partial batch included, which
    Keras's own `rebatch` + `shard` would hand to one process only.
    """
    if not isinstance(x, np.ndarray):
        return None
    import tensorflow as tf
    from keras.src.utils import rng_utils

    count, index = jax.process_count(), jax.process_index()
    dataset = tf.data.Dataset.from_tensor_slices(x)
    if shuffle:
        dataset = dataset.shuffle(
            len(x),
            seed=rng_utils.get_random_seed(),
            reshuffle_each_iteration=True,
        )

    def local_slice(batch):
        n = tf.shape(batch)[0]
        check = tf.debugging.assert_equal(
            n % count,
            0,
            message=f"Every batch must split evenly across the {count} "
            "processes (and their devices); choose the batch size and the "
            "number of examples so that the last batch does too.",
        )
        with tf.control_dependencies([check]):
            return batch[n * index // count : n * (index + 1) // count]

    return dataset.batch(batch_size or 32).map(local_slice)


@contextlib.contextmanager
def sharded_by_kvae():
    """Keras takes the pipelines of `as_global_batches` as they are."""
    distribution = keras.distribution.distribution()
    auto_shard = distribution.auto_shard_dataset
    distribution.auto_shard_dataset = False
    try:
        yield
    finally:
        distribution.auto_shard_dataset = auto_shard


@contextlib.contextmanager
def saving_in_one_process(model):
    """Lets one process save `model` while the others go on.

    Keras's saving makes throwaway variables (under a multi-process
    distribution their creation waits for every process) and reads each
    variable whole (a replicated array that spans processes cannot be read
    whole). Inside, there is no distribution, and each replicated variable
    holds this process's copy; both are restored on leaving.
    """
    from keras.src.distribution import distribution_lib

    distribution = distribution_lib.distribution()
    variables = list(model.variables)
    if model.optimizer is not None:
        variables += list(model.optimizer.variables)
    values = [v._value for v in variables]
    distribution_lib.set_distribution(None)
    try:
        for variable, value in zip(variables, values):
            variable._value = process_local(value)
        yield
    finally:
        for variable, value in zip(variables, values):
            variable._value = value
        distribution_lib.set_distribution(distribution)


def process_local(value):
    """A replicated array that spans processes, as this process's copy."""
    if isinstance(value, jax.Array) and not value.is_fully_addressable:
        if value.sharding.is_fully_replicated:
            return value.addressable_data(0)
    return value
