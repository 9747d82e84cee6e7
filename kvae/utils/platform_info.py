"""What a run ran on: backend, device, library versions and machine."""

import functools
import importlib.metadata
import os
import platform
import subprocess
import sys

import keras

from kvae.utils.processes import BACKENDS
from kvae.version import __version__


def environment():
    """Backend, device and versions of this process, for metrics.json.

    Returns:
        dict with `backend`, `backend_version`, `kvae_version`,
        `keras_version`, `python_version`, `device` (the platform of the
        first device: "cpu", "gpu", "cuda", ...), `machine` and `commit`
        (see `source_commit`).
    """
    from kvae.backend import distribution_lib

    backend = keras.backend.backend()
    try:
        device = distribution_lib.device_platform()
    except Exception:  # a report must not fail for a device query
        device = "unknown"
    return {
        "backend": backend,
        "backend_version": package_version(backend),
        "kvae_version": __version__,
        "keras_version": keras.__version__,
        "python_version": platform.python_version(),
        "device": device,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores",
        "commit": source_commit(),
    }


@functools.cache
def source_commit():
    """The git commit of the kvae source that runs, or `None`: an
    installed wheel (even in a venv inside some other checkout), or no git
    on the machine. Uncommitted changes are not recorded.

    Read once per process and kept: a commit made while a run trains is
    not the source it runs (a recipe asks at its start)."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    # A checkout holds the kvae package at its top level.
    folder = os.path.dirname(package)
    try:
        result = subprocess.run(
            ["git", "-C", folder, "rev-parse", "--show-toplevel", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    lines = result.stdout.split()
    if result.returncode != 0 or len(lines) != 2:
        return None
    top, commit = lines
    return commit if os.path.samefile(top, folder) else None


def package_version(name):
    """The version of package `name`, or `None` if it is not installed.

    The imported module's `__version__` if it is loaded, else the installed
    distribution's version (without importing it).
    """
    version = getattr(sys.modules.get(name), "__version__", None)
    if version is not None:
        return version
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def cpu_flags(path="/proc/cpuinfo"):
    """The feature flags of this machine's CPU, as Linux names them.

    Read from the `flags` line of `/proc/cpuinfo` ("avx512_bf16",
    "amx_bf16", ...); empty where that file does not exist or has no such
    line (macOS, Windows), so a caller treats the CPU as lacking every
    optional feature.

    Args:
        path: str. The cpuinfo file to read.

    Returns:
        frozenset of str.
    """
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "flags":
                    return frozenset(value.split())
    except OSError:
        pass
    return frozenset()


def machine_description():
    """One line naming the CPU, its cores and the library versions."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions = [
        f"Python {platform.python_version()}",
        f"keras {keras.__version__}",
    ]
    for name in BACKENDS:
        version = package_version(name)
        if version is not None:
            versions.append(f"{name} {version}")
    return f"{cpu}, {os.cpu_count()} cores; " + ", ".join(versions)
