import os
import shutil
import socket

import keras
import pytest

SHARED_DATA = os.environ.get(
    "KVAE_SHARED_DATA",
    # tests/datasets/conftest.py -> the folder holding the repository.
    os.path.join(
        os.path.dirname(
            os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
        ),
        "shared",
        "data",
    ),
)
DOGS_FOLDER = "stanford_dogs_subset"


class NetworkBlocked(OSError):
    pass


def _blocked(*args, **kwargs):
    raise NetworkBlocked("network access is disabled in kvae's data tests")


def _block_network(monkeypatch):
    monkeypatch.setattr(socket, "create_connection", _blocked)
    monkeypatch.setattr(socket, "getaddrinfo", _blocked)
    monkeypatch.setattr(socket.socket, "connect", _blocked)


@pytest.fixture(autouse=True)
def _reset_keras_state():
    """Overrides tests/conftest.py's fixture without its `gc.collect()`
    (clear_session's free_memory=True costs 0.3-0.4 s per test once
    TensorFlow is loaded; data tests build no models but one)."""
    keras.utils.clear_session(free_memory=False)
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy("float32")


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    """Data tests never reach the network, and never read the user's
    $KVAE_MANUAL_DIR."""
    _block_network(monkeypatch)
    monkeypatch.delenv("KVAE_MANUAL_DIR", raising=False)


def _shared_or_skip():
    path = os.path.abspath(SHARED_DATA)
    if not os.path.isdir(path):
        pytest.skip(f"shared data folder not found at {path}")
    return path


@pytest.fixture(scope="session")
def shared_dir():
    return _shared_or_skip()


@pytest.fixture(scope="session")
def mnist_data_dir(tmp_path_factory):
    """A tfds data_dir where MNIST was prepared, once per session, from the
    original files in shared/data/mnist (about 10 s)."""
    import kvae.datasets

    shared = _shared_or_skip()
    data_dir = str(tmp_path_factory.mktemp("tfds"))
    with pytest.MonkeyPatch.context() as mp:
        _block_network(mp)
        kvae.datasets.load(
            "mnist",
            "test[:1]",
            manual_dir=os.path.join(shared, "mnist"),
            data_dir=data_dir,
        )
    return data_dir


@pytest.fixture
def copy_of(tmp_path):
    """Copies shared-data files into a fresh folder under tmp_path."""

    def copy(subfolder, filenames, folder="copy"):
        target = tmp_path / folder
        target.mkdir(parents=True, exist_ok=True)
        for name in filenames:
            shutil.copy(
                os.path.join(_shared_or_skip(), subfolder, name), target / name
            )
        return target

    return copy
