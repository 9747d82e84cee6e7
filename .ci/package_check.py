"""Builds kvae's sdist, then its wheel from the sdist (as `python -m build`
does), and checks what a package index and `pip` will read.

    python .ci/package_check.py OUT_DIR    # prints the wheel's path

It uses setuptools' own build backend in this process, so nothing is
downloaded. Checked: the name and version, `Requires-Python`, the licence
and its file, the classifiers, the extras and the ranges of the backends,
the long description (README.md, as markdown), and that the wheel holds the
recipes and the presets' package data and no tests.
"""

import email.parser
import os
import re
import sys
import tarfile
import zipfile

from setuptools import build_meta

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXTRAS = {"jax", "torch", "all", "test"}


def build(out):
    os.makedirs(out, exist_ok=True)
    os.chdir(ROOT)
    sdist = os.path.join(out, build_meta.build_sdist(out))
    with tarfile.open(sdist) as archive:
        archive.extractall(out, filter="data")
        top = archive.getnames()[0].split("/")[0]
    os.chdir(os.path.join(out, top))
    wheel = os.path.join(out, build_meta.build_wheel(out))
    os.chdir(ROOT)
    return sdist, wheel


def source_facts():
    """The version and the shipped presets, read from the checkout's files
    (without importing kvae)."""
    with open(os.path.join(ROOT, "kvae", "version.py"), encoding="utf-8") as f:
        version = re.search(r'__version__ = "([^"]+)"', f.read()).group(1)
    presets = os.path.join(ROOT, "kvae", "presets")
    shipped = [
        name
        for name in os.listdir(presets)
        if not name.startswith(("_", "."))
        and os.path.isdir(os.path.join(presets, name))
    ]
    return version, shipped


def check(sdist, wheel):
    version, shipped_names = source_facts()
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        info = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = email.parser.Parser().parsestr(
            archive.read(info).decode("utf-8")
        )
    problems = []

    def expect(condition, what):
        if not condition:
            problems.append(what)

    expect(metadata["Name"] == "kvae-keras", f"name {metadata['Name']}")
    expect(metadata["Version"] == version, "version")
    expect(metadata["Requires-Python"] == ">=3.10", "Requires-Python")
    expect(metadata["License"] == "Apache-2.0", "License")
    expect(any(n.endswith("licenses/LICENSE") for n in names), "LICENSE")
    classifiers = metadata.get_all("Classifier") or []
    expect("Programming Language :: Python :: 3.11" in classifiers, "3.11")
    expect(set(metadata.get_all("Provides-Extra") or []) == EXTRAS, "extras")
    requires = metadata.get_all("Requires-Dist") or []
    pins = [r for r in requires if "==" in r.split(";")[0]]
    expect(not pins, f"exact pins {pins}")
    expect(
        metadata["Description-Content-Type"] == "text/markdown",
        "long description type",
    )
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    expect(metadata.get_payload().strip() == readme.strip(), "README")
    expect("kvae/recipes/kmnist.py" in names, "recipes in the wheel")
    expect("kvae/presets/loader.py" in names, "presets module")
    expect(not [n for n in names if n.startswith("tests/")], "tests")
    shipped = [
        f"kvae/presets/{name}/{part}"
        for name in shipped_names
        for part in ("config.json", "model.weights.h5", "metadata.json")
    ]
    expect(set(shipped) <= set(names), "shipped presets in the wheel")
    with tarfile.open(sdist) as archive:
        members = archive.getnames()
    for part in ("recipes/kmnist.py", "constraints/cpu.txt", "LICENSE"):
        expect(any(m.endswith("/" + part) for m in members), f"sdist {part}")
    if problems:
        sys.exit("package check failed: " + "; ".join(problems))


if __name__ == "__main__":
    sdist, wheel = build(os.path.abspath(sys.argv[1]))
    check(sdist, wheel)
    print(wheel)
