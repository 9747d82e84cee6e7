"""Multi-device training on PyTorch: Keras offers none, and kvae says so
instead of writing an engine of its own."""

import keras
import torch

_MESSAGE = (
    "Keras {version} offers no multi-device training on the torch backend: "
    "`keras.distribution` is implemented for JAX only, and `fit()` does not "
    "wrap the model in torch's DistributedDataParallel. kvae does not write "
    "its own engine, so on torch it trains on one device. For several "
    "devices use KERAS_BACKEND=jax (keras.distribution) or "
    "KERAS_BACKEND=tensorflow (tf.distribute); the same script and saved "
    "models work there. See docs/distribution.md."
)


def data_parallel(devices=None):
    raise NotImplementedError(_MESSAGE.format(version=keras.__version__))


def model_parallel(model_parallel, devices, layout_map, default_layout_map):
    raise NotImplementedError(_MESSAGE.format(version=keras.__version__))


def num_replicas(distribution):
    return 1


def device_platform():
    return "cuda" if torch.cuda.is_available() else "cpu"
