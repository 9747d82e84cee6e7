"""Which Keras dtype policy to train in: `"auto"` decided from the hardware.

`choose_policy` is the one place where kvae decides between `float32`,
`mixed_bfloat16` and `mixed_float16`, from facts passed to it (the
backend, the CPU's feature flags, the GPU), so the decision can be read
and tested without the hardware. `resolve_policy` gathers those facts for
this process; the recipes' `--precision auto` goes through it.

The decision follows the measurements in `docs/BENCHMARKS.md` (conv VAE,
batch 128, on a 2-core CPU with AVX512-BF16), `mixed_bfloat16` over
`float32`: 2.35x and 1.77x the img/s under TensorFlow, 2.13x and 1.65x
under torch, 1.01x and 0.75x under JAX (two runs); after 100 MNIST steps
the test -ELBO, SSIM and PSNR agreed to within 1.5 nats, 0.012 and
0.07 dB. On a CPU without bfloat16 instructions it would be emulated and
slow. On GPUs, bfloat16 is native from NVIDIA's compute capability 8.0
on; older GPUs get `mixed_float16`, which Keras trains with loss scaling.
"""

import keras

from kvae.utils import platform_info

POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")
# The CPU flags (as /proc/cpuinfo names them) that mean native bfloat16
# arithmetic, and how to say them.
_CPU_BFLOAT16_FLAGS = {"amx_bf16": "AMX-BF16", "avx512_bf16": "AVX512-BF16"}
# Backends whose CPU bfloat16 path trained faster than float32. XLA's CPU
# bfloat16 did not (JAX: 1.01x and 0.75x the img/s of float32).
_CPU_BFLOAT16_BACKENDS = ("tensorflow", "torch")


def choose_policy(backend, cpu_flags=(), gpu=None):
    """The Keras dtype policy that `"auto"` stands for, and why.

    On a GPU: `"mixed_bfloat16"` where it computes in bfloat16 natively,
    else `"mixed_float16"`. On a CPU: `"mixed_bfloat16"` under TensorFlow
    and torch where the CPU has AVX512-BF16 or AMX-BF16, else `"float32"`
    (always `"float32"` under JAX, whose CPU bfloat16 was no faster).
    `"mixed_float16"` is never chosen on a CPU: torch cannot train the
    conv VAE in it there.

    Args:
        backend: str. The Keras backend, `"tensorflow"`, `"jax"` or
            `"torch"`.
        cpu_flags: iterable of str. The CPU's feature flags as Linux names
            them (`kvae.utils.cpu_flags()`).
        gpu: `None` when the backend computes on the CPU, else a pair
            `(name, bfloat16)`: the GPU's name and whether it computes in
            bfloat16 natively.

    Returns:
        `(policy, reason)`: the policy name and a short sentence naming
        the facts it was chosen from.

    Example:

    ```python
    kvae.precision.choose_policy("torch", {"avx512_bf16"})
    # ("mixed_bfloat16", "CPU has AVX512-BF16, backend torch")
    ```
    """
    if gpu is not None:
        name, bfloat16 = gpu
        if bfloat16:
            return (
                "mixed_bfloat16",
                f"GPU {name} computes in bfloat16, backend {backend}",
            )
        return (
            "mixed_float16",
            f"GPU {name} lacks native bfloat16, backend {backend}",
        )
    flags = set(cpu_flags)
    found = [
        name for flag, name in _CPU_BFLOAT16_FLAGS.items() if flag in flags
    ]
    if not found:
        return (
            "float32",
            f"CPU lacks AVX512-BF16 and AMX-BF16, backend {backend}",
        )
    if backend not in _CPU_BFLOAT16_BACKENDS:
        return (
            "float32",
            f"CPU has {found[0]}, but bfloat16 is no faster than float32 "
            f"there, backend {backend}",
        )
    return "mixed_bfloat16", f"CPU has {found[0]}, backend {backend}"


def resolve_policy(precision):
    """The policy to train in for `precision`, which may be `"auto"`.

    Args:
        precision: str. `"auto"` or one of `POLICIES`.

    Returns:
        `(policy, reason)`. For `"auto"`, `choose_policy` of this process's
        backend, CPU flags and GPU; any other policy is returned as it is,
        with the reason `None`.

    Raises:
        ValueError: for a name that is neither `"auto"` nor a policy.
    """
    if precision in POLICIES:
        return precision, None
    if precision != "auto":
        raise ValueError(
            f"Unknown precision {precision!r}; choose 'auto' or one of "
            f"{list(POLICIES)}."
        )
    from kvae.backend import distribution_lib

    return choose_policy(
        keras.backend.backend(),
        platform_info.cpu_flags(),
        distribution_lib.gpu(),
    )


__all__ = [
    "POLICIES",
    "choose_policy",
    "resolve_policy",
]
