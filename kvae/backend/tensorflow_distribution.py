"""Multi-device training on TensorFlow: `tf.distribute.MirroredStrategy`
(Keras's `keras.distribution` for TensorFlow is an unfinished prototype)."""

import tensorflow as tf


def data_parallel(devices=None, timeout=None):
    return tf.distribute.MirroredStrategy(devices=_devices(devices))


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


def _devices(devices):
    if devices is not None:
        return list(devices)
    accelerators = tf.config.list_logical_devices("GPU")
    accelerators = accelerators or tf.config.list_logical_devices("CPU")
    return [device.name for device in accelerators]


def process_index():
    return 0


def process_count():
    return 1
