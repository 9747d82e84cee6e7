"""Keeps `docs/BENCHMARKS.md`: each benchmark script owns one section."""

import os
import shlex
import subprocess
import sys

from kvae.utils import machine_description
from kvae.utils import write_text

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


def update_section(title, body, command=None):
    """Replaces (or appends) section `## title` of BENCHMARKS.md atomically.
    The command defaults to this process's, quoted so it can be pasted."""
    command = command or "python " + shlex.join(sys.argv)
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
    write_text(BENCHMARKS_MD, text)
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
