"""Writes `docs/api.md` from the docstrings of kvae's public names.

    python docs/make_api.py          # rewrite docs/api.md
    python docs/make_api.py --check  # exit 1 if docs/api.md is out of date

The public names are those in `kvae.__all__` and in the `__all__` of each
public kvae module (subpackages such as `kvae.layers`, and modules such as
`kvae.evaluation`); a module without `__all__` exports the public classes
and functions it defines. `kvae.backend` is internal (its classes differ
from one backend to the next) and is described in `docs/backends.md`.

`tests/test_docs.py` imports this file to check that every public name has a
docstring and that `docs/api.md` matches the docstrings.
"""

import argparse
import importlib
import inspect
import os
import pkgutil
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
API_MD = os.path.join(HERE, "api.md")
# Internal modules, documented in prose rather than in the reference.
INTERNAL = (
    "kvae.backend",
    "kvae.inference",
    "kvae.likelihood",
    "kvae.model_args",
    "kvae.saving",
    "kvae.trackers",
    "kvae.validation",
    "kvae.version",
)
# Section headers of keras-hub style docstrings whose entries are
# `name: text` lines, rendered as bullet lists.
ARG_SECTIONS = ("Args", "Arguments", "Call arguments", "Attributes", "Raises")
_SECTION = re.compile(r"^([A-Z][A-Za-z ]*(?: \(`\w+`\))?):\s*$")
_ENTRY = re.compile(r"^(\*{0,2}[\w.]+)(?: \(([^)]*)\))?:\s?(.*)$")
_ADDRESS = re.compile(r" at 0x[0-9a-f]+")


def public_modules():
    """Module names with public names, in reference order: `kvae` first,
    then its public submodules, sorted."""
    import kvae

    names = {"kvae"}
    for value in vars(kvae).values():
        if inspect.ismodule(value) and value.__name__.startswith("kvae."):
            names.add(value.__name__)
    for info in pkgutil.iter_modules(kvae.__path__):
        if not info.name.startswith("_"):
            names.add(f"kvae.{info.name}")
    modules = []
    for name in sorted(names - set(INTERNAL)):
        module = importlib.import_module(name)
        if exported_names(module):
            modules.append(module)
    return modules


def exported_names(module):
    """`module.__all__`; without one, the public classes and functions
    that the module defines itself."""
    names = getattr(module, "__all__", None)
    if names is not None:
        return list(names)
    return [
        name
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(obj) or inspect.isfunction(obj))
        and obj.__module__ == module.__name__
    ]


def public_names(module):
    """`(qualified name, object)` for the documented names of `module`:
    everything it exports except submodules (they get their own
    section)."""
    items = []
    for name in exported_names(module):
        obj = getattr(module, name)
        if inspect.ismodule(obj):
            continue
        items.append((f"{module.__name__}.{name}", obj))
    return items


def sections():
    """`(module, names)` pairs in reference order. A class or function
    that two modules export (`kvae.VAE` and `kvae.vae.VAE`) is documented
    once, under its first name; modules left empty are dropped."""
    seen = set()
    result = []
    for module in public_modules():
        names = []
        for qualname, obj in public_names(module):
            if needs_docstring(obj):
                if id(obj) in seen:
                    continue
                seen.add(id(obj))
            names.append((qualname, obj))
        if names:
            result.append((module, names))
    return result


def all_public_names():
    """Every `(qualified name, object)` the reference must document."""
    return [item for _, names in sections() for item in names]


def needs_docstring(obj):
    return inspect.isclass(obj) or inspect.isroutine(obj)


def own_doc(obj):
    """The object's own docstring (not one inherited from a base class)."""
    doc = obj.__doc__ if needs_docstring(obj) else None
    return inspect.cleandoc(doc) if doc else ""


def signature(qualname, obj):
    target = obj.__init__ if inspect.isclass(obj) else obj
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):
        return f"{qualname}(...)"
    params = list(sig.parameters.values())
    if inspect.isclass(obj) and params and params[0].name == "self":
        params = params[1:]
    text = str(sig.replace(parameters=params, return_annotation=sig.empty))
    text = _ADDRESS.sub("", text)
    one_line = f"{qualname}{text}"
    if len(one_line) <= 79:
        return one_line
    args = [_ADDRESS.sub("", str(p)) for p in params]
    lines = [f"{qualname}("]
    keyword_only = False
    for p, arg in zip(params, args):
        if p.kind == p.KEYWORD_ONLY and not keyword_only:
            keyword_only = True
            lines.append("    *,")
        lines.append(f"    {arg},")
    lines.append(")")
    return "\n".join(lines)


def render_docstring(doc, level=4):
    """keras-hub style docstring to markdown: `Args:` and similar sections
    become bullet lists, doctest examples get a fence, the rest is kept."""
    lines = _fence_doctests(doc.splitlines())
    out = []
    i = 0
    while i < len(lines):
        match = _SECTION.match(lines[i])
        following = lines[i + 1 : i + 3]
        if match and any(_is_indented(f) or not f.strip() for f in following):
            title = match.group(1)
            block, i = _take_block(lines, i + 1)
            out.append(f"**{title}:**")
            out.append("")
            out.extend(_render_section(title, block))
            out.append("")
            continue
        out.append(lines[i])
        i += 1
    return "\n".join(out).strip() + "\n"


def _fence_doctests(lines):
    """Puts each run of `>>>` lines (and their output, up to a blank line)
    in a `pycon` fence, unless it is in a fence already."""
    out = []
    in_fence = False
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.lstrip()
        if stripped.startswith("```"):
            in_fence = not in_fence
        if in_fence or not stripped.startswith(">>>"):
            out.append(line)
            i += 1
            continue
        indent = line[: len(line) - len(stripped)]
        out.append(indent + "```pycon")
        while i < len(lines) and lines[i].strip():
            out.append(lines[i])
            i += 1
        out.append(indent + "```")
    return out


def _is_indented(line):
    return line.startswith(" ") and line.strip()


def _take_block(lines, start):
    """The lines of a section: indented or blank, up to the next
    unindented text."""
    block = []
    i = start
    while i < len(lines) and (not lines[i].strip() or _is_indented(lines[i])):
        block.append(lines[i])
        i += 1
    while block and not block[-1].strip():
        block.pop()
    while block and not block[0].strip():
        block.pop(0)
    return _dedent(block), i


def _dedent(block):
    indents = [len(x) - len(x.lstrip()) for x in block if x.strip()]
    cut = min(indents) if indents else 0
    return [x[cut:] if x.strip() else "" for x in block]


def _render_section(title, block):
    base = title.split(" (")[0]
    if base in ARG_SECTIONS:
        return _render_entries(block)
    if base in ("Example", "Examples") or any(
        x.startswith("```") for x in block
    ):
        return block
    return [x.strip() for x in block]


def _render_entries(block):
    entries = []
    for line in block:
        match = _ENTRY.match(line) if not line.startswith(" ") else None
        if match:
            name, kind, text = match.groups()
            head = f"- `{name}`"
            if kind:
                head += f" ({kind})"
            entries.append(f"{head}: {text}".rstrip())
        elif entries and line.strip():
            entries[-1] += " " + line.strip()
        elif line.strip():
            entries.append(line.strip())
    return entries


def public_methods(cls):
    """Methods and properties defined by `cls` itself or by the `...Mixin`
    classes it derives from directly (`kvae.VAE` gathers its jobs from
    mixins in internal modules), public and with a docstring (Keras
    methods overridden without one are left out)."""
    mixins = [b for b in cls.__bases__ if b.__name__.endswith("Mixin")]
    members = {}
    for klass in [cls] + mixins:
        for name, value in vars(klass).items():
            members.setdefault(name, value)
    methods = []
    for name, value in members.items():
        if name.startswith("_"):
            continue
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        if isinstance(value, property):
            doc = value.__doc__
            kind = "property"
        elif inspect.isfunction(value):
            doc = value.__doc__
            kind = "method"
        else:
            continue
        if doc:
            methods.append((name, value, kind, inspect.cleandoc(doc)))
    return methods


def render_object(qualname, obj):
    out = [f"### `{qualname}`", ""]
    if not needs_docstring(obj):
        kind = type(obj).__name__
        out += [f"A `{kind}` constant (`{qualname}`).", ""]
        return out
    kind = "class" if inspect.isclass(obj) else "function"
    out += [f"*{kind}*", "", "```python", signature(qualname, obj), "```", ""]
    out += render_docstring(own_doc(obj) or "(No docstring.)").splitlines()
    out.append("")
    if inspect.isclass(obj):
        for name, value, kind, doc in public_methods(obj):
            if kind == "property":
                out += [f"#### `{qualname}.{name}` (property)", ""]
            else:
                sig = inspect.signature(value)
                params = [p for p in sig.parameters.values()]
                if params and params[0].name in ("self", "cls"):
                    params = params[1:]
                sig = sig.replace(
                    parameters=params, return_annotation=sig.empty
                )
                out += [f"#### `{qualname}.{name}{sig}`", ""]
            out += render_docstring(doc).splitlines()
            out.append("")
    return out


def anchor(heading):
    """GitHub's anchor for a markdown heading."""
    text = heading.strip().lstrip("#").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def render():
    parts = sections()
    out = [
        "# API reference",
        "",
        "<!-- Generated by `python docs/make_api.py` from the docstrings; "
        "do not edit by hand. -->",
        "",
        "Every public class and function of kvae, generated from its "
        "docstring by `python docs/make_api.py`. For a guided tour, start "
        "with [Getting started](getting-started.md).",
        "",
    ]
    for module, names in parts:
        out.append(f"- [`{module.__name__}`](#{anchor(module.__name__)})")
        for qualname, _ in names:
            out.append(f"  - [`{qualname}`](#{anchor(qualname)})")
    out.append("")
    for module, names in parts:
        out += [f"## `{module.__name__}`", ""]
        doc = inspect.getdoc(module) or ""
        if doc:
            out += render_docstring(doc).splitlines()
            out.append("")
        for qualname, obj in names:
            out += render_object(qualname, obj)
    return _squeeze_blank_lines(out).rstrip() + "\n"


def _squeeze_blank_lines(lines):
    """Joins `lines`, keeping one blank line at most outside code fences
    (inside them, blank lines are the code's own)."""
    kept = []
    in_fence = False
    for line in lines:
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        if not in_fence and not line.strip() and kept and not kept[-1]:
            continue
        kept.append(line if line.strip() else "")
    return "\n".join(kept)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit 1 if docs/api.md differs from the docstrings",
    )
    args = parser.parse_args(argv)
    sys.path.insert(0, os.path.dirname(HERE))
    text = render()
    if args.check:
        with open(API_MD) as f:
            if f.read() != text:
                print("docs/api.md is out of date: run python docs/make_api.py")
                return 1
        return 0
    with open(API_MD, "w") as f:
        f.write(text)
    print(f"wrote {API_MD}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
