"""Multi-device training on JAX: `keras.distribution`, which Keras
implements for JAX."""

import jax
import keras


def data_parallel(devices=None, timeout=None):
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


def _devices(devices):
    if devices is None:
        return keras.distribution.list_devices()
    return list(devices)


def process_index():
    return 0


def process_count():
    return 1
