"""Writing files atomically: a temporary file beside the target, then
`os.replace`, so a reader never sees a half-written file and an interrupted
run never leaves one."""

import contextlib
import json
import math
import os
import tempfile

import numpy as np

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
    fd, tmp = tempfile.mkstemp(
        dir=folder, prefix="." + os.path.basename(path) + ".", suffix=suffix
    )
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


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
