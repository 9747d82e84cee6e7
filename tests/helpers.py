"""Shared test helpers, in the spirit of keras-hub's `TestCase` helpers."""

import gzip
import os
import sys

import keras
import numpy as np

from kvae.utils import BACKENDS
from kvae.utils import run_with_backend

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_idx_images(path, count=None):
    """Reads an IDX gz image file into float32 (n, 28, 28, 1) in [0, 1]."""
    with gzip.open(path, "rb") as f:
        data = np.frombuffer(f.read(), dtype=np.uint8)
    images = data[16:].reshape(-1, 28, 28, 1)
    if count is not None:
        images = images[:count]
    return images.astype("float32") / 255.0


def mnist_images(shared_data, count, split="train"):
    prefix = "train" if split == "train" else "t10k"
    path = os.path.join(shared_data, "mnist", f"{prefix}-images-idx3-ubyte.gz")
    return read_idx_images(path, count)


def run_layer_test(layer_cls, init_kwargs, input_shape, expected_shapes):
    """Config round trip, a symbolic call and an eager call of a layer.

    `expected_shapes` is the output shape (or tuple of shapes) without the
    batch dimension.
    """
    layer = layer_cls(**init_kwargs)
    config = layer.get_config()
    for key, value in init_kwargs.items():
        got = config[key]
        assert _plain(got) == _plain(value), (key, got, value)
    clone = layer_cls.from_config(config)
    assert _plain(clone.get_config()) == _plain(config)

    symbolic = layer.compute_output_spec(
        keras.KerasTensor((None,) + input_shape)
    )
    _assert_shapes(symbolic, expected_shapes, batch=None)

    x = np.random.default_rng(0).random((2,) + input_shape).astype("float32")
    eager = layer(x)
    _assert_shapes(eager, expected_shapes, batch=2)
    return layer


def _plain(value):
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _assert_shapes(outputs, expected, batch):
    if isinstance(expected[0], tuple):
        assert len(outputs) == len(expected)
        for out, exp in zip(outputs, expected):
            assert tuple(out.shape) == (batch,) + exp, (out.shape, exp)
    else:
        assert tuple(outputs.shape) == (batch,) + expected, (
            outputs.shape,
            expected,
        )


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


def read_tensorboard(log_dir):
    """`{tag: [(step, value), ...]}` of the TensorBoard events in `log_dir`:
    a float for a scalar, an RGB uint8 array `(h, w, 3)` for an image."""
    import io

    from PIL import Image
    from tensorboard.backend.event_processing import event_accumulator
    from tensorboard.util import tensor_util

    accumulator = event_accumulator.EventAccumulator(
        str(log_dir), size_guidance={event_accumulator.TENSORS: 0}
    )
    accumulator.Reload()
    result = {}
    for tag in accumulator.Tags()["tensors"]:
        values = []
        for event in accumulator.Tensors(tag):
            array = tensor_util.make_ndarray(event.tensor_proto)
            if array.dtype == object:  # an image: width, height, PNG
                png = Image.open(io.BytesIO(array[2]))
                values.append((event.step, np.asarray(png.convert("RGB"))))
            else:
                values.append((event.step, float(array)))
        result[tag] = values
    return result


def run_under_other_backends(script, folder):
    """Runs `python -c script folder` under each other backend; yields
    `(backend, stdout)` once each run has exited with status 0."""
    for backend in BACKENDS:
        if backend == keras.backend.backend():
            continue
        proc = run_with_backend(
            [sys.executable, "-c", script, str(folder)],
            backend,
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        yield backend, proc.stdout


def randomized(model, image_shape):
    """`model` built for images of `image_shape`, with every trainable
    weight random (so priors, label stages and writes are not trivial)."""
    model.build((None,) + tuple(image_shape))
    for variable in model.trainable_variables:
        rng = np.random.default_rng(len(variable.path))
        variable.assign(
            (0.3 * rng.standard_normal(variable.shape)).astype("float32")
        )
    return model


def tiny_hierarchical_layers(image_shape=(8, 8, 1), groups=(1, 1)):
    """A small `HierarchicalEncoder`/`HierarchicalDecoder` pair: latent
    groups at a quarter and a half of the image side."""
    import kvae

    side = image_shape[0]
    resolutions = (side // 4, side // 2)
    encoder = kvae.layers.HierarchicalEncoder(
        resolutions, width=8, blocks=1, bottleneck=4
    )
    decoder = kvae.layers.HierarchicalDecoder(
        image_shape,
        resolutions,
        groups=groups,
        latent_channels=2,
        width=8,
        bottleneck=4,
        output_blocks=0,
    )
    return encoder, decoder
