"""Running a command under another Keras backend, in its own process.

The backend is fixed when Keras is imported, so comparing backends, or
testing what a file saved under one does under another, takes one process
per backend.
"""

import importlib.util
import os
import subprocess

BACKENDS = ("tensorflow", "jax", "torch")


def backend_installed(backend):
    """Whether the package behind a Keras backend can be imported."""
    return importlib.util.find_spec(backend) is not None


def backend_env(backend, **variables):
    """The environment of a process under `backend`: this process's
    environment with `KERAS_BACKEND` and `variables` set."""
    return dict(os.environ, KERAS_BACKEND=backend, **variables)


def run_with_backend(command, backend, env=None, **kwargs):
    """`subprocess.run(command)` with `KERAS_BACKEND=backend`.

    Args:
        command: list of str. The command, e.g.
            `[sys.executable, "script.py", "--flag"]`.
        backend: str. "tensorflow", "jax" or "torch".
        env: dict or `None`. More environment variables to set.
        **kwargs: passed to `subprocess.run` (`capture_output`, `text`,
            `stdout`, `cwd`, `timeout`, `check`, ...).

    Returns:
        The `subprocess.CompletedProcess`.

    Example:

    ```python
    done = kvae.utils.run_with_backend(
        [sys.executable, "-c", "import keras; print(keras.backend.backend())"],
        "jax",
        capture_output=True,
        text=True,
    )
    ```
    """
    return subprocess.run(
        command, env=backend_env(backend, **(env or {})), **kwargs
    )
