"""Utilities the recipes, benchmarks and tests share: atomic file writing,
running a command under another Keras backend, the launch variables of
several local processes, legend handles, and describing the environment a
run ran on."""

from kvae.utils.files import atomic_path
from kvae.utils.files import write_json
from kvae.utils.files import write_text
from kvae.utils.launch import free_port
from kvae.utils.launch import local_launch_envs
from kvae.utils.pca import pca_basis
from kvae.utils.platform_info import cpu_flags
from kvae.utils.platform_info import environment
from kvae.utils.platform_info import machine_description
from kvae.utils.platform_info import package_version
from kvae.utils.plots import legend_dot
from kvae.utils.processes import BACKENDS
from kvae.utils.processes import backend_env
from kvae.utils.processes import backend_installed
from kvae.utils.processes import run_with_backend

__all__ = [
    "BACKENDS",
    "atomic_path",
    "backend_env",
    "backend_installed",
    "cpu_flags",
    "environment",
    "free_port",
    "legend_dot",
    "local_launch_envs",
    "machine_description",
    "package_version",
    "pca_basis",
    "run_with_backend",
    "write_json",
    "write_text",
]
