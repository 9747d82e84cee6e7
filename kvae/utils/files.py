"""Writing files atomically: a temporary file beside the target, then
`os.replace`, so a reader never sees a half-written file and an interrupted
run never leaves one.

Every temporary file is named `.<name>.kvae-partial-<random><suffix>`: a
hidden name that cannot be mistaken for an output, and that
`partial_files` recognises after a killed run.
"""

import contextlib
import json
import math
import os
import re
import tempfile

import numpy as np

PARTIAL_MARK = ".kvae-partial-"
_PARTIAL_NAME = re.compile(r"^\.(.+?)" + re.escape(PARTIAL_MARK))

# mkstemp creates files readable by the owner only; give the final file the
# permissions an ordinary open() would.
_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path, suffix=".tmp"):
    """Yields a temporary path beside `path`; renames it over `path` on
    success, and removes it on failure.

    Args:
        path: str or os.PathLike. The file to write.
        suffix: str. Suffix of the temporary file, for writers that need
            one (Keras's `model.save` needs ".keras").

    Example:

    ```python
    with kvae.utils.atomic_path("figure.png") as tmp:
        figure.savefig(tmp, format="png")
    ```
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(
            dir=folder,
            prefix=partial_name(os.path.basename(path)),
            suffix=suffix,
        )
        os.close(fd)
    except OSError as error:
        raise _write_error(path, error) from error
    try:
        try:
            yield tmp
        except OSError as error:
            raise _write_error(path, error) from error
        publish(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def publish(tmp, path):
    """Renames the finished temporary file `tmp` over `path` (with the
    permissions of a new file): the one place kvae makes a file appear.
    `atomic_path` uses it; so does a writer that fills its temporary file
    over a long time (the history of a run, row by row)."""
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except OSError as error:
        raise _write_error(path, error) from error


def partial_name(name):
    """The hidden name prefix of a temporary file that becomes `name`."""
    return "." + name + PARTIAL_MARK


def partial_files(folder):
    """`{name: target}` of the temporary files in `folder`: each becomes
    (or, left by a killed writer, would have become) the file `target`."""
    found = {}
    for name in os.listdir(folder):
        match = _PARTIAL_NAME.match(name)
        if match:
            found[name] = match.group(1)
    return found


def _write_error(path, error):
    """An `OSError` that names the file, what happened to it and what to
    do, instead of a bare `[Errno 28] No space left on device`."""
    existed = os.path.exists(path)
    kept = (
        "its previous version is unchanged"
        if existed
        else "it was not written"
    )
    message = (
        f"Could not write {path} ({error.strerror or error}); {kept}, and "
        "the other files in its folder are complete. Free disk space or "
        "make the folder writable, then run again"
    )
    if error.errno is None:
        return type(error)(message)
    return type(error)(error.errno, message)


def write_text(path, text):
    """Writes `text` to `path` atomically, as UTF-8."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)


def write_json(path, obj):
    """Writes `obj` as JSON atomically; NaN and infinities become null."""
    write_text(path, json.dumps(_json_safe(obj), indent=2, allow_nan=False))


def _json_safe(obj):
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    return obj
