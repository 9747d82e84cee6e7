"""The environment of several training processes started on this machine,
as each backend's launcher would set it (for tests and benchmarks).

Each backend is launched by its own variables: torchrun's (`RANK`,
`WORLD_SIZE`, `MASTER_ADDR`, `MASTER_PORT`, ...) for torch, `TF_CONFIG` for
TensorFlow, Keras's `KERAS_DISTRIBUTION_*` for JAX. `kvae.distribution`
reads them (`kvae/backend/<backend>_distribution.py`); this module writes
them, for loopback addresses and free ports.
"""

import json
import socket

LOCALHOST = "127.0.0.1"


def free_port(host=LOCALHOST):
    """A TCP port on `host` that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def local_launch_envs(backend, count, host=LOCALHOST, **variables):
    """The launch variables of `count` processes of `backend` on `host`.

    Args:
        backend: str. "tensorflow", "jax" or "torch".
        count: int. Number of processes.
        host: str. The address every process listens on.
        **variables: more variables, the same for every process.

    Returns:
        A list of `count` dicts of str, one per process, in rank order.

    Example:

    ```python
    envs = kvae.utils.local_launch_envs("jax", 2, JAX_PLATFORMS="cpu")
    procs = [
        subprocess.Popen(command, env=kvae.utils.backend_env("jax", **env))
        for env in envs
    ]
    ```
    """
    if backend not in _LAUNCHERS:
        raise ValueError(
            f"Unknown backend {backend!r}: expected one of "
            f"{', '.join(sorted(_LAUNCHERS))}."
        )
    envs = _LAUNCHERS[backend](count, host)
    return [dict(env, **variables) for env in envs]


def _torchrun(count, host):
    port = str(free_port(host))
    return [
        dict(
            RANK=str(rank),
            LOCAL_RANK=str(rank),
            WORLD_SIZE=str(count),
            LOCAL_WORLD_SIZE=str(count),
            MASTER_ADDR=host,
            MASTER_PORT=port,
        )
        for rank in range(count)
    ]


def _tf_config(count, host):
    workers = [f"{host}:{free_port(host)}" for _ in range(count)]
    return [
        dict(
            TF_CONFIG=json.dumps(
                {
                    "cluster": {"worker": workers},
                    "task": {"type": "worker", "index": index},
                }
            )
        )
        for index in range(count)
    ]


def _keras_distribution(count, host):
    address = f"{host}:{free_port(host)}"
    return [
        dict(
            KERAS_DISTRIBUTION_JOB_ADDRESSES=address,
            KERAS_DISTRIBUTION_NUM_PROCESSES=str(count),
            KERAS_DISTRIBUTION_PROCESS_ID=str(index),
        )
        for index in range(count)
    ]


_LAUNCHERS = {
    "jax": _keras_distribution,
    "tensorflow": _tf_config,
    "torch": _torchrun,
}
