"""Multi-device training on TensorFlow: `tf.distribute.MirroredStrategy`
on one machine, `MultiWorkerMirroredStrategy` across processes named by
`TF_CONFIG` (Keras's `keras.distribution` for TensorFlow is an unfinished
prototype)."""

import json
import os

import tensorflow as tf


def launched():
    """Whether `TF_CONFIG` names a cluster of workers."""
    return "TF_CONFIG" in os.environ


def data_parallel(devices=None, timeout=None):
    if not launched():
        return tf.distribute.MirroredStrategy(devices=_devices(devices))
    if devices is not None:
        raise ValueError(
            "Under TF_CONFIG (MultiWorkerMirroredStrategy) every worker "
            "uses all of its devices; `devices` cannot be given."
        )
    options = tf.distribute.experimental.CommunicationOptions(
        timeout_seconds=timeout
    )
    return tf.distribute.MultiWorkerMirroredStrategy(
        communication_options=options
    )


def model_parallel(model_parallel, devices, layout_map, default_layout_map):
    raise NotImplementedError(
        "kvae supports model parallelism on JAX only: Keras's "
        "`keras.distribution` for TensorFlow is an unfinished prototype. "
        "Use data_parallel() (tf.distribute.MirroredStrategy) on "
        "TensorFlow, or KERAS_BACKEND=jax."
    )


def num_replicas(distribution):
    return int(distribution.num_replicas_in_sync)


def device_platform():
    return "gpu" if tf.config.list_physical_devices("GPU") else "cpu"


def gpu():
    """`(name, bfloat16)` of the first GPU TensorFlow sees, or `None`.

    bfloat16 is native from CUDA compute capability 8.0 (Ampere) on.
    """
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return None
    details = tf.config.experimental.get_device_details(gpus[0])
    major = (details.get("compute_capability") or (0, 0))[0]
    return details.get("device_name", gpus[0].name), major >= 8


def _devices(devices):
    if devices is not None:
        return list(devices)
    accelerators = tf.config.list_logical_devices("GPU")
    accelerators = accelerators or tf.config.list_logical_devices("CPU")
    return [device.name for device in accelerators]


def process_index():
    """The task's index in `TF_CONFIG`: 0 for the chief (or worker 0
    without a chief), which writes the files."""
    config = _tf_config()
    task = config.get("task", {})
    if task.get("type") == "chief":
        return 0
    has_chief = bool(config.get("cluster", {}).get("chief"))
    return int(task.get("index", 0)) + int(has_chief)


def process_count():
    cluster = _tf_config().get("cluster", {})
    return max(1, sum(len(cluster.get(t, ())) for t in ("chief", "worker")))


def _tf_config():
    return json.loads(os.environ.get("TF_CONFIG", "{}"))
