import os
import subprocess

import pytest

import kvae
from kvae import utils
from kvae.utils import platform_info

CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu sse2 avx2 avx512f avx512_bf16 amx_bf16 amx_tile
bogomips\t: 4000.00

processor\t: 1
flags\t\t: fpu sse2 avx2 avx512f avx512_bf16 amx_bf16 amx_tile
"""


def test_cpu_flags_reads_the_flags_line(tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text(CPUINFO)
    flags = utils.cpu_flags(str(path))
    assert flags == {
        "fpu",
        "sse2",
        "avx2",
        "avx512f",
        "avx512_bf16",
        "amx_bf16",
        "amx_tile",
    }
    # "model name" mentions no flag; "bogomips" is not read as one.
    assert "Intel(R)" not in flags and "4000.00" not in flags


def test_cpu_flags_without_cpuinfo_are_empty(tmp_path):
    assert utils.cpu_flags(str(tmp_path / "missing")) == frozenset()
    no_flags = tmp_path / "cpuinfo"
    # An ARM cpuinfo names them "Features", not "flags".
    no_flags.write_text("processor\t: 0\nFeatures\t: fp asimd bf16\n")
    assert utils.cpu_flags(str(no_flags)) == frozenset()


def test_cpu_flags_of_this_machine():
    flags = utils.cpu_flags()
    assert isinstance(flags, frozenset)
    assert all(isinstance(flag, str) and " " not in flag for flag in flags)


def test_environment_records_the_commit_of_a_checkout():
    root = os.path.dirname(os.path.dirname(os.path.abspath(kvae.__file__)))
    head = subprocess.run(
        ["git", "-C", root, "rev-parse", "HEAD"], capture_output=True, text=True
    )
    if head.returncode != 0:
        pytest.skip("kvae does not run from a git checkout here")
    assert utils.environment()["commit"] == head.stdout.strip()
    assert platform_info.source_commit() == head.stdout.strip()


def test_the_commit_is_read_once_per_process(monkeypatch):
    """A commit made while a run trains is not the source that runs: the
    first answer is kept."""
    calls = []
    run = subprocess.run

    def counted(*args, **kwargs):
        calls.append(args)
        return run(*args, **kwargs)

    platform_info.source_commit.cache_clear()
    monkeypatch.setattr(platform_info.subprocess, "run", counted)
    try:
        first = platform_info.source_commit()
        assert platform_info.source_commit() == first
        assert len(calls) == 1
    finally:
        platform_info.source_commit.cache_clear()
