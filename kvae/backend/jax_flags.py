"""The XLA:CPU settings kvae makes under JAX, in one place.

jaxlib 0.10 hands convolutions on the CPU to YNNPACK library fusions
(`__ynn_fusion` in an XLA dump). On this project's 2-core AVX-512 CPU, the
3x3 and 2x2 convolutions of kvae's models and their gradients ran about half
as fast there as through XLA's own Eigen convolutions: one sub-pixel
upsampling convolution (14x14, 64 to 128 channels, batch 128) took 20 / 20 /
30 ms forward / input gradient / weight gradient with YNNPACK and 9 / 12 /
15 ms without it, and the conv VAE's whole training step about 1.5 times as
long (docs/backends.md, docs/BENCHMARKS.md). YNNPACK's dots and reductions,
on by default too, are kept: turning them off as well made a large float32
matmul 1.6x slower. So kvae adds
`--xla_cpu_experimental_ynn_fusion_type=LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT,
LIBRARY_FUSION_TYPE_REDUCE` (jaxlib 0.10's default set, less convolutions)
to `XLA_FLAGS` when it is imported under JAX, where all of these hold:

- the user's own `XLA_FLAGS` do not name that flag: a user who sets it, to
  any value, keeps their value (and the rest of their flags are never
  touched);
- jaxlib is a version where it was measured to help (`MEASURED_JAXLIB`): an
  XLA that does not know a flag aborts the process, so no other version gets
  it;
- JAX has not yet started its backends: XLA reads `XLA_FLAGS` once, so a
  flag added later would silently do nothing. Import kvae before running
  JAX code, as `import kvae` at the top of a script does.

The flag changes which library computes a convolution, not what it
computes: results agree to float rounding (tests/backend/test_jax_flags.py).
"""

import os

from kvae.backend.versions import major_minor

YNN_FUSION_FLAG = "--xla_cpu_experimental_ynn_fusion_type"
KVAE_XLA_FLAGS = (
    f"{YNN_FUSION_FLAG}="
    "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT,LIBRARY_FUSION_TYPE_REDUCE",
)
# [first, last] jaxlib (major, minor) measured to gain.
MEASURED_JAXLIB = ((0, 10), (0, 10))


def flags_to_add(xla_flags, jaxlib_version):
    """The flags kvae adds to the user's `xla_flags` under `jaxlib_version`.

    Args:
        xla_flags: str. The user's `XLA_FLAGS` (empty when unset).
        jaxlib_version: str. For example `"0.10.2"`.

    Returns:
        Tuple of flag strings, empty when kvae adds nothing.
    """
    first, last = MEASURED_JAXLIB
    if not first <= major_minor(jaxlib_version) <= last:
        return ()
    named = {flag.split("=", 1)[0] for flag in xla_flags.split()}
    return tuple(
        flag for flag in KVAE_XLA_FLAGS if flag.split("=", 1)[0] not in named
    )


def backends_started():
    """Whether JAX has already created its backends (and read `XLA_FLAGS`)."""
    from jax._src import xla_bridge

    return bool(xla_bridge._backends)


def apply(environ=None):
    """Adds kvae's flags to `XLA_FLAGS` where they help; see the module doc.

    Args:
        environ: mapping to edit; `os.environ` by default.

    Returns:
        Tuple of the flags added (empty when none were).
    """
    import jaxlib

    environ = os.environ if environ is None else environ
    user_flags = environ.get("XLA_FLAGS", "")
    added = flags_to_add(user_flags, jaxlib.__version__)
    if not added or backends_started():
        return ()
    environ["XLA_FLAGS"] = " ".join((user_flags,) + added).strip()
    return added
