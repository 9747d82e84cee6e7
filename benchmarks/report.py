"""Keeps `docs/BENCHMARKS.md`: each benchmark script owns one section."""

import os
import platform
import subprocess
import sys

BENCHMARKS_MD = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    "docs",
    "BENCHMARKS.md",
)
_HEADER = (
    "# Benchmarks\n\n"
    "Written by the scripts in `benchmarks/`; each section names the command "
    "that produced it. Figures are medians over repeated measurements taken "
    "in one run; compare ratios, not absolute times across machines.\n"
)


def machine_description():
    """One line naming the CPU, core count and library versions."""
    import keras

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
    for name in ("tensorflow", "jax", "torch"):
        try:
            module = __import__(name)
            versions.append(f"{name} {module.__version__}")
        except ImportError:
            pass
    return f"{cpu}, {os.cpu_count()} cores; " + ", ".join(versions)


def update_section(title, body, command=None):
    """Replaces (or appends) section `## title` of BENCHMARKS.md atomically."""
    command = command or "python " + " ".join(sys.argv)
    start, end = f"<!-- begin {title} -->", f"<!-- end {title} -->"
    section = (
        f"{start}\n## {title}\n\n"
        f"Command: `{command}`  \n"
        f"Machine: {machine_description()}  \n"
        f"Commit: {_git_commit()}\n\n{body.strip()}\n{end}"
    )
    text = _HEADER
    if os.path.exists(BENCHMARKS_MD):
        with open(BENCHMARKS_MD) as f:
            text = f.read()
    if start in text and end in text:
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1]
        text = before + section + after
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    tmp = BENCHMARKS_MD + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, BENCHMARKS_MD)
    print(f"Wrote section '{title}' to {BENCHMARKS_MD}")


def _git_commit():
    try:
        return subprocess.check_output(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=os.path.dirname(BENCHMARKS_MD),
            stderr=subprocess.DEVNULL,
            text=True,
        ).strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
