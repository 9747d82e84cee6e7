"""`kvae.distribution` in this process, under the current backend."""

import keras
import pytest

import kvae.distribution

BACKEND = keras.backend.backend()


def test_none_means_one_device():
    assert kvae.distribution.get(None) is None
    assert kvae.distribution.get("none") is None
    assert kvae.distribution.num_replicas(None) == 1
    with kvae.distribution.scope(None):
        pass


def test_unknown_name():
    with pytest.raises(ValueError, match="'data_parallel'"):
        kvae.distribution.get("ddp")


def test_objects_pass_through():
    marker = object()
    assert kvae.distribution.get(marker) is marker


@pytest.mark.skipif(BACKEND != "torch", reason="torch only")
def test_torch_data_parallel_needs_torchrun(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(RuntimeError, match="torchrun --nproc-per-node 2"):
        kvae.distribution.get("data_parallel")
    with pytest.raises(ValueError, match="one device"):
        kvae.distribution.data_parallel(devices=["cuda:0"])
    with pytest.raises(NotImplementedError, match="JAX only"):
        kvae.distribution.get("model_parallel")
    assert kvae.distribution.process_index() == 0
    assert kvae.distribution.process_count() == 1


def test_timeout_seconds(monkeypatch):
    monkeypatch.delenv(kvae.distribution.TIMEOUT_VARIABLE, raising=False)
    assert kvae.distribution.timeout_seconds() == (
        kvae.distribution.DEFAULT_TIMEOUT
    )
    monkeypatch.setenv(kvae.distribution.TIMEOUT_VARIABLE, "12.5")
    assert kvae.distribution.timeout_seconds() == 12.5
    assert kvae.distribution.timeout_seconds(3) == 3.0
    with pytest.raises(ValueError, match="KVAE_DISTRIBUTED_TIMEOUT"):
        kvae.distribution.timeout_seconds(0)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="tensorflow only")
def test_tensorflow_data_parallel_is_a_mirrored_strategy():
    import tensorflow as tf

    strategy = kvae.distribution.get("data_parallel")
    assert isinstance(strategy, tf.distribute.MirroredStrategy)
    assert kvae.distribution.num_replicas(strategy) == len(
        strategy.extended.worker_devices
    )
    with pytest.raises(NotImplementedError, match="JAX only"):
        kvae.distribution.model_parallel()


@pytest.mark.skipif(BACKEND != "jax", reason="jax only")
def test_jax_data_parallel_is_set_globally():
    distribution = kvae.distribution.get("data_parallel")
    try:
        assert isinstance(distribution, keras.distribution.DataParallel)
        assert keras.distribution.distribution() is distribution
        assert kvae.distribution.num_replicas(distribution) == len(
            keras.distribution.list_devices()
        )
        with pytest.raises(ValueError, match="must divide"):
            kvae.distribution.model_parallel(model_parallel=0)
    finally:
        keras.distribution.set_distribution(None)


def test_residual_decoder_layout_map_splits_output_channels():
    mesh = keras.distribution.DeviceMesh(
        (1, 2), ("batch", "model"), devices=["cpu:0", "cpu:1"]
    )
    layout_map = kvae.distribution.residual_decoder_layout_map(mesh)

    def axes(path):
        layout = layout_map[path]
        return None if layout is None else tuple(layout.axes)

    decoder = "vae/residual_decoder_2"
    assert axes(f"{decoder}/dense_4/kernel") == (None, "model")
    assert axes(f"{decoder}/dense_4/bias") == ("model",)
    block = f"{decoder}/residual_block_1/conv2d_5"
    assert axes(f"{block}/kernel") == (None, None, None, "model")
    assert axes(f"{decoder}/upsample2d/conv2d/bias") == ("model",)
    # Conv2DTranspose kernels are (h, w, out, in).
    transpose = f"{decoder}/upsample2d_3/conv2d_transpose_1/kernel"
    assert axes(transpose) == (None, None, "model", None)
    # Replicated: the last convolution, BatchNorm, and other layers.
    assert axes(f"{decoder}/conv2d_9/kernel") is None
    assert axes(f"{decoder}/residual_block/batch_normalization/gamma") is None
    assert axes("vae/residual_encoder/conv2d_1/kernel") is None
