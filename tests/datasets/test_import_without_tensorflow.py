import os
import sys
import textwrap

import pytest

from kvae.utils import run_with_backend


@pytest.mark.slow
def test_numpy_route_without_tensorflow(shared_dir):
    """`import kvae.datasets` and the IDX route need neither TensorFlow nor
    tensorflow-datasets (a JAX- or torch-only GPU machine)."""
    code = textwrap.dedent(
        f"""
        import sys
        sys.modules["tensorflow"] = None  # makes `import tensorflow` fail
        sys.modules["tensorflow_datasets"] = None
        import kvae.datasets
        manual = {shared_dir!r}
        x, y = kvae.datasets.load_numpy("kmnist", "test", manual_dir=manual)
        assert x.shape == (10000, 28, 28, 1), x.shape
        try:
            kvae.datasets.load_numpy("kmnist", "test[:9]", manual_dir=manual)
        except kvae.datasets.DatasetError as e:
            assert "slicing needs tensorflow-datasets" in str(e), e
        else:
            raise AssertionError("slicing without tfds should fail")
        assert sys.modules["tensorflow"] is None  # never imported
        print("ok")
        """
    )
    backend = os.environ.get("KERAS_BACKEND", "jax")
    result = run_with_backend(
        [sys.executable, "-c", code],
        "jax" if backend == "tensorflow" else backend,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")
