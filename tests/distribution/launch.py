"""Starting several training processes on this machine, for the tests.

Every process is a `python -m MODULE ...` (or another command) under one
Keras backend (`kvae.utils.backend_env`), with its own environment, its
output in a log file (a full pipe would stall it), and a bounded wait.
Addresses are loopback only: `127.0.0.1` and a free port.
"""

import subprocess
import sys
import time

from kvae.utils import backend_env
from kvae.utils import local_launch_envs
from kvae.utils.launch import LOCALHOST as HOST

ROOT = __file__.rsplit("/tests/", 1)[0]


def envs(backend, world_size=2, **variables):
    """The launch variables of `world_size` processes of `backend` on
    127.0.0.1 (`kvae.utils.local_launch_envs`)."""
    return local_launch_envs(backend, world_size, HOST, **variables)


class Processes:
    """Processes started at once; `wait` collects their exit codes and
    logs; leaving the `with` block kills any still running."""

    def __init__(self, backend, commands, envs, log_dir):
        self.procs, self.logs = [], []
        for i, (command, env) in enumerate(zip(commands, envs)):
            log = open(log_dir / f"process{i}.log", "w+")
            self.logs.append(log)
            self.procs.append(
                subprocess.Popen(
                    command,
                    cwd=ROOT,
                    env=backend_env(backend, OMP_NUM_THREADS="1", **env),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for log in self.logs:
            log.close()

    def log(self, i):
        self.logs[i].flush()
        self.logs[i].seek(0)
        return self.logs[i].read()

    def wait(self, timeout):
        """Exit codes, after at most `timeout` seconds in all; raises
        `AssertionError` with the logs if any process is still running."""
        deadline = time.monotonic() + timeout
        for i, proc in enumerate(self.procs):
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                raise AssertionError(
                    f"process {i} still runs after {timeout} s:\n"
                    + "\n".join(self.log(j)[-3000:] for j in range(len(self)))
                )
        return [proc.returncode for proc in self.procs]

    def assert_succeeded(self, timeout):
        codes = self.wait(timeout)
        for i, code in enumerate(codes):
            assert code == 0, (
                f"process {i} exited {code}:\n{self.log(i)[-5000:]}"
            )

    def __len__(self):
        return len(self.procs)


def module(name, *args):
    """The command that runs module `name` with this Python."""
    return [sys.executable, "-m", name, *map(str, args)]
