"""The documentation stays true: its code runs, its links resolve, and every
public name is in the API reference.

Code blocks: every fenced ```python block of README.md and docs/*.md runs,
in order, one namespace per file (so a page can build on its earlier
blocks), in a fresh working folder next to a `shared/data` link to the
shared data (so `../shared/data/...` paths work as in the repository). A
block preceded by `<!-- test: skip (reason) -->` is not run; the reason is
required and should be a GPU or the network. docs/api.md is generated
from the docstrings, whose examples are fragments, so it is not run. A
block that repeats one of README.md's word for word (the 15-line example in
docs/getting-started.md) runs once, in README.md's test; elsewhere only its
imports run.
"""

import ast
import importlib.util
import os
import re

import keras
import pytest

from tests.conftest import SHARED_DATA

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")
GALLERY = os.path.join(DOCS, "gallery")
MAX_GALLERY_FILE_BYTES = 1_500_000
MAX_GALLERY_BYTES = 10_000_000

NOT_RUN = {"docs/api.md": "generated from docstrings"}
_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)")
_SKIP = re.compile(r"<!--\s*test:\s*skip\s*(.*?)\s*-->")
_LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?")
_HTML_SRC = re.compile(r"<(?:img|a)\b[^>]*?\b(?:src|href)=\"([^\"]+)\"")


def _markdown_files():
    files = ["README.md"]
    files += sorted(
        f"docs/{name}" for name in os.listdir(DOCS) if name.endswith(".md")
    )
    return [f for f in files if os.path.exists(os.path.join(ROOT, f))]


def _read(relpath):
    with open(os.path.join(ROOT, relpath), encoding="utf-8") as f:
        return f.read()


def code_blocks(text):
    """`(line, language, code, skip_reason)` for every fenced block; line
    is the 1-based line of the block's first code line."""
    blocks = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, fence, language = match.groups()
        first_line = i + 2
        skip = None
        j = i - 1
        while j >= 0 and not lines[j].strip():
            j -= 1
        if j >= 0:
            marker = _SKIP.search(lines[j])
            if marker:
                skip = marker.group(1) or "no reason given"
        body = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            line = lines[i]
            body.append(
                line[len(indent) :] if line.startswith(indent) else line
            )
            i += 1
        blocks.append((first_line, language, "\n".join(body), skip))
        i += 1
    return blocks


def _outside_code(text):
    """The text with fenced blocks and inline code blanked out."""
    out = []
    in_fence = None
    for line in text.splitlines():
        match = _FENCE.match(line)
        if match and (in_fence is None or line.strip().startswith(in_fence)):
            in_fence = None if in_fence else match.group(2)
            out.append("")
            continue
        out.append("" if in_fence else re.sub(r"`[^`]*`", "", line))
    return "\n".join(out)


def _runnable_files():
    files = []
    for relpath in _markdown_files():
        if relpath in NOT_RUN:
            continue
        blocks = code_blocks(_read(relpath))
        if any(language == "python" for _, language, _, _ in blocks):
            files.append(relpath)
    return files


@pytest.mark.slow
@pytest.mark.parametrize("relpath", _runnable_files())
def test_python_blocks_run(relpath, tmp_path, monkeypatch):
    blocks = [
        b for b in code_blocks(_read(relpath)) if b[1] == "python" and not b[3]
    ]
    if not blocks:
        pytest.skip("every python block is marked to skip")
    if any("shared/data" in code for _, _, code, _ in blocks):
        if not os.path.isdir(SHARED_DATA):
            pytest.skip(f"shared data folder not found at {SHARED_DATA}")
    (tmp_path / "shared").mkdir()
    os.symlink(SHARED_DATA, tmp_path / "shared" / "data")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    readme = set()
    if relpath != "README.md":
        readme = {b[2] for b in code_blocks(_read("README.md"))}
    namespace = {"__name__": "__docs__"}
    for line, _, code, _ in blocks:
        # Pad so that tracebacks give the line numbers of the markdown file.
        tree = ast.parse("\n" * (line - 1) + code)
        if code in readme:
            tree.body = [
                node
                for node in tree.body
                if isinstance(node, (ast.Import, ast.ImportFrom))
            ]
        filename = os.path.join(ROOT, relpath)
        exec(compile(tree, filename, "exec"), namespace)
    keras.utils.clear_session()


def test_skip_markers_give_a_reason():
    for relpath in _markdown_files():
        for line, language, _, skip in code_blocks(_read(relpath)):
            assert skip != "no reason given", (
                f"{relpath}:{line}: say why the block is skipped: "
                "<!-- test: skip (needs a GPU) -->"
            )


def test_readme_example_is_in_getting_started():
    readme = [
        code
        for _, language, code, _ in code_blocks(_read("README.md"))
        if language == "python" and "kvae.VAE(" in code
    ]
    assert readme, "README.md lost its model.fit() example"
    assert readme[0] in _read("docs/getting-started.md"), (
        "docs/getting-started.md must show README's example unchanged"
    )


def _anchors(relpath):
    """GitHub's anchors for the headings of a markdown file."""
    anchors = set()
    counts = {}
    in_fence = None
    for line in _read(relpath).splitlines():
        match = _FENCE.match(line)
        if match and (in_fence is None or line.strip().startswith(in_fence)):
            in_fence = None if in_fence else match.group(2)
            continue
        heading = re.match(r"^#{1,6}\s+(.*?)\s*$", line)
        if in_fence or not heading:
            continue
        slug = heading.group(1).strip().lower()
        slug = re.sub(r"[^\w\- ]", "", slug).replace(" ", "-")
        n = counts.get(slug, 0)
        counts[slug] = n + 1
        anchors.add(slug if n == 0 else f"{slug}-{n}")
    return anchors


@pytest.mark.parametrize("relpath", _markdown_files())
def test_links_and_images_exist(relpath):
    text = _outside_code(_read(relpath))
    targets = _LINK.findall(text) + _HTML_SRC.findall(text)
    base = os.path.dirname(os.path.join(ROOT, relpath))
    broken = []
    for target in targets:
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):
            continue  # https:, mailto:, ...
        path, _, anchor = target.partition("#")
        full = os.path.normpath(os.path.join(base, path)) if path else None
        if full and not os.path.exists(full):
            broken.append(f"{target} (no file {os.path.relpath(full, ROOT)})")
            continue
        if anchor and (full is None or full.endswith(".md")):
            md = os.path.relpath(full, ROOT) if full else relpath
            if anchor not in _anchors(md):
                broken.append(f"{target} (no heading #{anchor} in {md})")
    assert not broken, f"{relpath}: broken links: {broken}"


def _make_api():
    spec = importlib.util.spec_from_file_location(
        "make_api", os.path.join(DOCS, "make_api.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_public_name_has_a_docstring():
    make_api = _make_api()
    names = make_api.all_public_names()
    assert any(name == "kvae.VAE" for name, _ in names)
    missing = [
        name
        for name, obj in names
        if make_api.needs_docstring(obj) and not make_api.own_doc(obj)
    ]
    assert not missing, f"public names without a docstring: {missing}"


def test_every_public_name_is_in_the_api_reference():
    make_api = _make_api()
    api = _read("docs/api.md")
    missing = [
        name
        for name, _ in make_api.all_public_names()
        if f"### `{name}`" not in api
    ]
    assert not missing, (
        f"not in docs/api.md: {missing}; run python docs/make_api.py"
    )


def test_api_reference_matches_the_docstrings():
    assert _make_api().render() == _read("docs/api.md"), (
        "docs/api.md is out of date: run python docs/make_api.py"
    )


def test_gallery_files_are_small_and_shown():
    if not os.path.isdir(GALLERY):
        pytest.skip("no docs/gallery yet")
    gallery_md = _read("docs/gallery.md")
    total = 0
    for root, _, files in os.walk(GALLERY):
        for name in files:
            path = os.path.join(root, name)
            size = os.path.getsize(path)
            total += size
            relative = os.path.relpath(path, DOCS)
            assert size <= MAX_GALLERY_FILE_BYTES, f"{relative}: {size} B"
            assert relative in gallery_md, f"{relative} is not in gallery.md"
    assert total <= MAX_GALLERY_BYTES, f"docs/gallery holds {total} bytes"
