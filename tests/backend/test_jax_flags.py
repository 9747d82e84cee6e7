"""kvae's XLA:CPU flags under JAX (`kvae/backend/jax_flags.py`).

The rule is tested as a pure function on every backend; that the flag takes
effect, leaves a user's own setting alone and does not change results is
tested in fresh JAX processes, because XLA reads `XLA_FLAGS` once per
process.
"""

import json
import sys

import keras
import numpy as np
import pytest

from kvae.backend import jax_flags
from kvae.utils import run_with_backend

FLAG = jax_flags.YNN_FUSION_FLAG
MEASURED = "0.10.2"


def test_adds_the_flag_to_empty_or_unrelated_flags():
    ours = jax_flags.KVAE_XLA_FLAGS
    assert len(ours) == 1 and ours[0].startswith(f"{FLAG}=")
    assert jax_flags.flags_to_add("", MEASURED) == ours
    other = "--xla_force_host_platform_device_count=4"
    assert jax_flags.flags_to_add(other, MEASURED) == ours


def test_a_users_own_value_is_kept():
    for value in ("", "LIBRARY_FUSION_TYPE_INDIVIDUAL_CONVOLUTION"):
        assert jax_flags.flags_to_add(f"--a=1 {FLAG}={value}", MEASURED) == ()


def test_unmeasured_jaxlib_versions_get_nothing():
    for version in ("0.4.38", "0.9.1", "0.11.0", "1.0.0"):
        assert jax_flags.flags_to_add("", version) == ()


def test_apply_edits_only_the_given_environment():
    environ = {"XLA_FLAGS": "--a=1"}
    added = jax_flags.apply(environ)
    if added:
        assert environ["XLA_FLAGS"] == "--a=1 " + " ".join(added)
    else:
        assert environ["XLA_FLAGS"] == "--a=1"


# A fresh JAX process: import kvae, then compile and run one convolution
# (kvae's 14x14 sub-pixel upsampling shape) and report whether XLA gave it
# to YNNPACK.
PROBE = """
import json, os, sys
import numpy as np
import kvae
import jax, jax.numpy as jnp
from jax import lax
rng = np.random.default_rng(0)
x = jnp.asarray(rng.standard_normal((8, 14, 14, 64)), jnp.float32)
w = jnp.asarray(rng.standard_normal((2, 2, 64, 128)) * 0.1, jnp.float32)
conv = jax.jit(lambda x, w: lax.conv_general_dilated(
    x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")))
hlo = conv.lower(x, w).compile().as_text()
np.save(sys.argv[1], np.asarray(conv(x, w)))
print(json.dumps({"flags": os.environ.get("XLA_FLAGS", ""),
                  "ynn": "__ynn_fusion" in hlo}))
"""


def _probe(tmp_path, name, xla_flags=None):
    env = {"JAX_PLATFORMS": "cpu"}
    if xla_flags is not None:
        env["XLA_FLAGS"] = xla_flags
    out = tmp_path / f"{name}.npy"
    done = run_with_backend(
        [sys.executable, "-c", PROBE, str(out)],
        "jax",
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), np.load(out)


@pytest.fixture(scope="module")
def jaxlib_measured():
    # Backend-independent; run once, in the JAX suite.
    if keras.backend.backend() != "jax":
        pytest.skip("runs in the JAX suite")
    import jaxlib

    if not jax_flags.flags_to_add("", jaxlib.__version__):
        pytest.skip(f"kvae sets no flags for jaxlib {jaxlib.__version__}")


def test_the_flag_takes_effect_and_a_users_choice_wins(
    jaxlib_measured, tmp_path
):
    kvae_default, y_kvae = _probe(tmp_path, "kvae", xla_flags="")
    assert kvae_default["flags"] == " ".join(jax_flags.KVAE_XLA_FLAGS)
    assert not kvae_default["ynn"], "the convolution still went to YNNPACK"

    user = f"{FLAG}=LIBRARY_FUSION_TYPE_INDIVIDUAL_CONVOLUTION"
    users_choice, y_ynn = _probe(tmp_path, "user", xla_flags=user)
    assert users_choice["flags"] == user
    assert users_choice["ynn"], "the user's YNNPACK setting was not kept"

    # Another library computes the convolution, the same function.
    np.testing.assert_allclose(y_kvae, y_ynn, rtol=1e-4, atol=1e-4)
