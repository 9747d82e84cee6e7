"""Training on several devices through the engines the backends provide.

kvae has no distribution engine of its own. On JAX it sets a
`keras.distribution` (`DataParallel`, or `ModelParallel` with a layout map
for the wide `ResidualDecoder`); on TensorFlow it makes a
`tf.distribute.MirroredStrategy` (or a `MultiWorkerMirroredStrategy` from
`TF_CONFIG`); on PyTorch, where Keras has no engine, it uses
`torch.distributed` collectives in kvae's train step, one process per
device under `torchrun`. See `docs/distribution.md`.

Every function returns the backend's own object, which has a `scope()`:
create and compile the model inside it, then call `fit` as usual with the
global batch size. `get` maps a recipe's `--distribute` flag to one of them.

Example:

```python
import kvae

distribution = kvae.distribution.get("data_parallel")  # or "none"
with kvae.distribution.scope(distribution):
    model = kvae.VAE(kvae.layers.ConvEncoder(16), kvae.layers.ConvDecoder())
    model.compile(optimizer="adam")
model.fit(x, batch_size=64 * kvae.distribution.num_replicas(distribution))
```
"""

import contextlib
import os

import keras

from kvae.backend import distribution_lib

STRATEGIES = ("none", "data_parallel", "model_parallel")
# Seconds a process waits for the others in a collective before it stops
# with an error (a dead or stuck process); `KVAE_DISTRIBUTED_TIMEOUT`
# overrides it. Long enough for a slow first step (compiling) on CPU.
DEFAULT_TIMEOUT = 300
TIMEOUT_VARIABLE = "KVAE_DISTRIBUTED_TIMEOUT"


def timeout_seconds(timeout=None):
    """The collective timeout: `timeout`, else `$KVAE_DISTRIBUTED_TIMEOUT`,
    else `DEFAULT_TIMEOUT` (seconds)."""
    if timeout is None:
        timeout = os.environ.get(TIMEOUT_VARIABLE, DEFAULT_TIMEOUT)
    timeout = float(timeout)
    if timeout <= 0:
        raise ValueError(
            f"The distributed timeout must be positive seconds; got "
            f"{timeout} (from the `timeout` argument or ${TIMEOUT_VARIABLE})."
        )
    return timeout


def launched():
    """Whether this process was started as one of several: torchrun's
    variables (torch), `TF_CONFIG` (TensorFlow) or `KERAS_DISTRIBUTION_*`
    (JAX). `data_parallel()` then trains across the processes."""
    return distribution_lib.launched()


def process_index():
    """This process's index among the training processes (0 on one).

    Process 0 writes the files of a run (model, logs, GIFs); the others
    write nothing.
    """
    return distribution_lib.process_index()


def process_count():
    """How many processes train together (1 without a multi-process
    launch)."""
    return distribution_lib.process_count()


def data_parallel(devices=None, timeout=None):
    """Data-parallel training on every device, with the backend's engine.

    Each device holds a full copy of the weights and gets an equal slice of
    every batch; gradients are summed across devices, the logged losses and
    metrics are means over the global batch, and each device draws its own
    reparameterization noise `eps`.

    - JAX: a `keras.distribution.DataParallel`, set as the global
      distribution at once (so `fit` shards every batch). Call this before
      creating the model: variables made earlier stay on one device.
    - TensorFlow: a `tf.distribute.MirroredStrategy`. Create and compile the
      model inside its `scope()`.
    - torch: one process per device, started by `torchrun` (its `RANK`,
      `WORLD_SIZE`, `MASTER_ADDR` and `MASTER_PORT`): joins the
      `torch.distributed` group (gloo on CPU, nccl on GPU). A model created
      in its `scope()` trains on its process's slice of each global batch,
      with gradients and metric updates summed across processes. Without
      torchrun's variables it raises `RuntimeError` saying how to launch.

    Several processes (machines) are detected from how they were launched:
    `torchrun`'s variables (torch), `TF_CONFIG`
    (`MultiWorkerMirroredStrategy`, TensorFlow), `KERAS_DISTRIBUTION_*`
    (`keras.distribution.initialize`, JAX). See `docs/distribution.md`.

    Args:
        devices: list or `None`. JAX devices (`jax.devices()`, or names such
            as `"gpu:0"`) or TensorFlow device names (`"/gpu:0"`). `None`
            takes every accelerator, or else every CPU device: for example
            the virtual CPU devices made by XLA's
            `--xla_force_host_platform_device_count` flag on JAX, or by
            `tf.config.set_logical_device_configuration` on TensorFlow.
        timeout: float or `None`. Seconds a process waits for the others
            before stopping with an error; see `timeout_seconds`.

    Returns:
        The distribution (JAX) or strategy (TensorFlow). Both have `scope()`.

    Example:

    ```python
    distribution = kvae.distribution.data_parallel()
    with distribution.scope():
        model = kvae.VAE(kvae.layers.ConvEncoder(16), kvae.layers.ConvDecoder())
        model.compile(optimizer="adam")
    model.fit(x, batch_size=256)  # the global batch, split across devices
    ```
    """
    return distribution_lib.data_parallel(devices, timeout_seconds(timeout))


def model_parallel(model_parallel=2, devices=None, layout_map=None):
    """Data and model parallelism for wide decoders (JAX only).

    The devices form a `(batch, model)` mesh: batches are split along
    `batch`, and the variables named in the layout map are split along
    `model`. By default the map is `residual_decoder_layout_map`, which
    splits the output channels of the `ResidualDecoder`'s convolutions and
    of its first `Dense` layer; every other variable is replicated.

    The global distribution is set at once; call this before creating the
    model.

    Args:
        model_parallel: int. Devices that share one copy of the model (the
            size of the `model` axis). It must divide the number of devices,
            and the channel counts of the split layers.
        devices: list or `None`. JAX devices; `None` takes all of them.
            Ignored when `layout_map` is given (its mesh names the devices).
        layout_map: `keras.distribution.LayoutMap` or `None`. If given, it
            must be built on a mesh with axes `("batch", "model")`.

    Returns:
        A `keras.distribution.ModelParallel`.

    Example:

    ```python
    distribution = kvae.distribution.model_parallel(model_parallel=2)
    model = kvae.VAE(
        kvae.layers.ResidualEncoder(128),
        kvae.layers.ResidualDecoder((64, 64, 3), filters=(1024, 512, 256, 128)),
        likelihood="gaussian",
    )
    ```
    """
    return distribution_lib.model_parallel(
        model_parallel, devices, layout_map, residual_decoder_layout_map
    )


def residual_decoder_layout_map(
    device_mesh, decoder_name="residual_decoder", model_axis="model"
):
    """A `LayoutMap` that splits a `ResidualDecoder` along its channels.

    The kernels and biases of the first `Dense` layer, of every upsampling
    convolution and of every residual-block convolution are split along
    their output channels over the mesh axis `model_axis`. The last
    convolution (to the image channels) and the BatchNorm variables stay
    replicated. The keys are regular expressions on variable paths, so
    they match the decoder inside a `kvae.VAE` too.

    Args:
        device_mesh: `keras.distribution.DeviceMesh` with an axis named
            `model_axis`.
        decoder_name: str. Name of the decoder layer (its default name is
            `"residual_decoder"`).
        model_axis: str. Mesh axis the channels are split along.

    Returns:
        A `keras.distribution.LayoutMap`.
    """
    layout_map = keras.distribution.LayoutMap(device_mesh)
    prefix = rf"(.*/)?{decoder_name}(_\d+)?/"
    block = r"(upsample2d|residual_block)(_\d+)?/"
    split_out = (model_axis,)
    layout_map[rf"{prefix}dense(_\d+)?/kernel"] = (None, model_axis)
    layout_map[rf"{prefix}dense(_\d+)?/bias"] = split_out
    # Conv2D kernels are (h, w, in, out); Conv2DTranspose ones (h, w, out, in).
    conv = rf"{prefix}{block}conv2d(_\d+)?/"
    layout_map[rf"{conv}kernel"] = (None, None, None, model_axis)
    layout_map[rf"{conv}bias"] = split_out
    transpose = rf"{prefix}{block}conv2d_transpose(_\d+)?/"
    layout_map[rf"{transpose}kernel"] = (None, None, model_axis, None)
    layout_map[rf"{transpose}bias"] = split_out
    return layout_map


def get(identifier, devices=None):
    """The distribution named by a recipe's `--distribute` flag.

    Args:
        identifier: `None`, one of `"none"`, `"data_parallel"`,
            `"model_parallel"`, or a distribution or strategy object (returned
            unchanged).
        devices: list or `None`. Passed to `data_parallel`/`model_parallel`.

    Returns:
        `None` for `"none"`, else what `data_parallel()` or
        `model_parallel()` returns.
    """
    if identifier is None or identifier == "none":
        return None
    if identifier == "data_parallel":
        return data_parallel(devices)
    if identifier == "model_parallel":
        return model_parallel(devices=devices)
    if isinstance(identifier, str):
        raise ValueError(
            f"Unknown distribution {identifier!r}. Use one of "
            f"{', '.join(repr(s) for s in STRATEGIES)}."
        )
    return identifier


def scope(distribution):
    """`distribution.scope()`, or a context that does nothing for `None`."""
    if distribution is None:
        return contextlib.nullcontext()
    return distribution.scope()


def num_replicas(distribution=None):
    """How many slices each batch is split into (1 for `None`).

    Scale the per-device batch size by this to get the global batch size
    that `fit` takes.
    """
    if distribution is None:
        return 1
    return distribution_lib.num_replicas(distribution)
