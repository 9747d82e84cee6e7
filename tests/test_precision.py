"""Training under each precision policy that `--precision` offers.

Tiny versions of the two model families (the conv VAE of the MNIST recipes,
the residual VAE of the dogs recipe) fit under `float32`, `mixed_bfloat16`
and `mixed_float16` on the backend of this run: the numbers stay finite,
the loss falls, the layers compute in the policy's dtype, and the weights
(and so the saved file) stay float32.

`kvae.precision.choose_policy`, which `--precision auto` follows, is tested
over a table of hardware facts passed to it, so it does not depend on this
machine.
"""

import keras
import numpy as np
import pytest

import kvae
from kvae import experiment
from tests.helpers import to_numpy

POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")
RNG = np.random.default_rng(3)
DIGITS = (RNG.random((64, 16, 16, 1)) < 0.3).astype("float32")
PHOTOS = RNG.random((64, 16, 16, 3)).astype("float32")


def conv_vae():
    return kvae.VAE(
        kvae.layers.ConvEncoder(4, filters=(8, 16), dense_units=16),
        kvae.layers.ConvDecoder((16, 16, 1), filters=(16, 8), dense_units=16),
        seed=0,
    )


def residual_vae():
    return kvae.VAE(
        kvae.layers.ResidualEncoder(4, filters=(8, 16)),
        kvae.layers.ResidualDecoder((16, 16, 3), filters=(16, 8)),
        likelihood="gaussian",
        sigma="optimal",
        seed=0,
    )


def _torch_cuda():
    import torch

    return torch.cuda.is_available()


@pytest.fixture
def policy(request):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(request.param)
    yield request.param
    keras.config.set_dtype_policy(previous)


@pytest.mark.parametrize("policy", POLICIES, indirect=True)
@pytest.mark.parametrize(
    "build, x",
    [(conv_vae, DIGITS), (residual_vae, PHOTOS)],
    ids=["conv", "res"],
)
def test_fit_under_policy(policy, build, x, tmp_path):
    if (
        keras.backend.backend() == "torch"
        and policy == "mixed_float16"
        and build is conv_vae
        and not _torch_cuda()
    ):
        # torch 2.13's CPU float16 convolution backward (slow_conv2d) fails
        # on the layout Keras hands it; see docs/backends.md.
        pytest.xfail("torch CPU: slow_conv2d: grad_weight must be contiguous")
    model = build()
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    history = model.fit(x, epochs=4, batch_size=16, verbose=0).history
    losses = history["loss"]
    assert np.isfinite(losses).all(), losses
    assert losses[-1] < losses[0], losses
    for key in ("ssim", "psnr", "mse"):
        assert np.isfinite(history[key]).all(), key
    compute = "float32" if policy == "float32" else policy.split("_")[1]
    assert model.encoder.compute_dtype == compute
    assert model.decoder.compute_dtype == compute
    assert {w.dtype for w in model.weights} <= {"float32", "int64", "uint32"}
    assert to_numpy(model.reconstruct(x[:2])).dtype == np.float32

    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    assert reloaded.decoder.dtype_policy.name == policy
    for a, b in zip(model.weights, reloaded.weights):
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b))


def test_config_precision_is_checked():
    config = experiment.Config(precision="mixed_bfloat16")
    assert config.precision == "mixed_bfloat16"
    assert experiment.Config(precision="auto").precision == "auto"
    with pytest.raises(ValueError, match="precision"):
        experiment.Config(precision="bfloat16")


AMX = {"fpu", "avx512f", "amx_tile", "amx_bf16", "avx512_bf16"}
AVX512_BF16 = {"fpu", "avx512f", "avx512_bf16"}
NO_BF16 = {"fpu", "avx2", "avx512f"}
H200 = ("NVIDIA H200", True)
T4 = ("Tesla T4", False)


@pytest.mark.parametrize(
    "backend, flags, gpu, expected, words",
    [
        ("tensorflow", AMX, None, "mixed_bfloat16", "CPU has AMX-BF16"),
        ("torch", AMX, None, "mixed_bfloat16", "CPU has AMX-BF16"),
        ("jax", AMX, None, "float32", "no faster"),
        ("tensorflow", AVX512_BF16, None, "mixed_bfloat16", "AVX512-BF16"),
        ("torch", AVX512_BF16, None, "mixed_bfloat16", "AVX512-BF16"),
        ("jax", AVX512_BF16, None, "float32", "no faster"),
        ("tensorflow", NO_BF16, None, "float32", "lacks"),
        ("torch", NO_BF16, None, "float32", "lacks"),
        ("jax", NO_BF16, None, "float32", "lacks"),
        ("torch", (), None, "float32", "lacks"),
        # AMX-BF16 alone (no AVX512-BF16 flag) is enough.
        ("torch", {"amx_bf16"}, None, "mixed_bfloat16", "AMX-BF16"),
        # A GPU decides, whatever the CPU has.
        ("jax", NO_BF16, H200, "mixed_bfloat16", "GPU NVIDIA H200"),
        ("torch", AMX, H200, "mixed_bfloat16", "GPU NVIDIA H200"),
        ("tensorflow", (), H200, "mixed_bfloat16", "GPU NVIDIA H200"),
        ("jax", AMX, T4, "mixed_float16", "Tesla T4 lacks"),
        ("torch", NO_BF16, T4, "mixed_float16", "Tesla T4 lacks"),
    ],
)
def test_choose_policy(backend, flags, gpu, expected, words):
    policy, reason = kvae.precision.choose_policy(backend, flags, gpu)
    assert policy == expected
    assert words in reason
    assert reason.endswith(f"backend {backend}")


def test_choose_policy_never_picks_float16_on_a_cpu():
    # torch cannot train the conv VAE in float16 on a CPU (the xfail of
    # test_fit_under_policy); no CPU gets it, whatever its flags.
    for backend in ("tensorflow", "jax", "torch"):
        for flags in (AMX, AVX512_BF16, NO_BF16, (), {"amx_bf16"}):
            policy, _ = kvae.precision.choose_policy(backend, flags, None)
            assert policy in ("float32", "mixed_bfloat16"), (backend, flags)


def test_resolve_policy():
    for name in kvae.precision.POLICIES:
        assert kvae.precision.resolve_policy(name) == (name, None)
    from kvae.backend import distribution_lib

    # "auto" is choose_policy of this process's backend, CPU and GPU.
    expected = kvae.precision.choose_policy(
        keras.backend.backend(),
        kvae.utils.cpu_flags(),
        distribution_lib.gpu(),
    )
    assert kvae.precision.resolve_policy("auto") == expected
    assert expected[0] in kvae.precision.POLICIES
    if distribution_lib.gpu() is None:
        assert expected[0] != "mixed_float16"
    with pytest.raises(ValueError, match="'bfloat16'.*'auto'"):
        kvae.precision.resolve_policy("bfloat16")
