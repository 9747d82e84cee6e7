import os

import keras
import pytest

# The shared data folder sits beside the repository (../shared/data); tests
# that need real files are skipped with a clear reason where it is absent,
# and KVAE_SHARED_DATA can point elsewhere.
SHARED_DATA = os.environ.get(
    "KVAE_SHARED_DATA",
    os.path.join(
        os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
        "shared",
        "data",
    ),
)


@pytest.fixture
def shared_data():
    if not os.path.isdir(SHARED_DATA):
        pytest.skip(f"shared data folder not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _reset_keras_state():
    # free_memory=False skips a garbage collection that costs ~0.3 s a test.
    keras.utils.clear_session(free_memory=False)
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy("float32")
