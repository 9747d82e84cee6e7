"""`lock_folder`: one writer per output folder, across processes.

A run holds an operating-system lock (`flock`) on a hidden file in its
folder, `.kvae-run.lock`, which records who holds it: the process id, the
host and when it started. The operating system releases the lock when the
process ends, however it ends, so a killed run never blocks the next one:
a lock file nobody holds is provably stale and is taken over. Where the
file system has no `flock` (or on Windows), the recorded process is
checked instead: a lock of a process that no longer runs on this host is
taken over, and one recorded on another host is refused with the file to
delete.
"""

import datetime
import errno
import json
import os
import socket

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

LOCK_NAME = ".kvae-run.lock"
_NO_LOCKS = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS)


class FolderInUseError(RuntimeError):
    """Another live process holds the folder's lock.

    `owner` is the dict that process recorded (`pid`, `host`, `started`),
    or `None` if it could not be read. `advice` says what to do.
    """

    def __init__(self, folder, owner, proven):
        self.folder = folder
        self.owner = owner
        self.advice = "Wait for that run to end, or choose another folder."
        if not proven:
            # Without flock the record is all there is to go by.
            self.advice += (
                " If that process no longer runs (it was recorded on "
                "another host, or this system cannot tell), delete "
                f"{os.path.join(folder, LOCK_NAME)}."
            )
        super().__init__(
            f"{folder!r} is in use by {describe_owner(owner)}. {self.advice}"
        )


class FolderLock:
    """A held folder lock; `release()` (or leaving a `with` block) gives
    it back and deletes the lock file.

    Attributes:
        folder: str. The locked folder.
        stale_owner: dict or `None`. The record of a run that held the
            lock and ended without releasing it (killed), if any.
        deleted: list of str. What the taker deleted on taking the folder
            (`kvae.experiment.prepare_output` sets it).
    """

    def __init__(self, folder, fd, stale_owner):
        self.folder = folder
        self.deleted = []
        self.path = os.path.join(folder, LOCK_NAME)
        self.stale_owner = stale_owner
        self._fd = fd

    def release(self):
        if self._fd is None:
            return
        # Unlinked while still held: a process that opened the old file
        # sees it is no longer the folder's lock (see `lock_folder`).
        try:
            os.remove(self.path)
        except FileNotFoundError:
            pass
        os.close(self._fd)
        self._fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.release()


def lock_folder(folder):
    """Takes the lock of `folder` (an existing folder) for this process.

    Returns:
        A `FolderLock`.

    Raises:
        FolderInUseError: another live process holds it.
    """
    path = os.path.join(folder, LOCK_NAME)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        taken, owner, proven = _take(fd)
        if not taken:
            os.close(fd)
            raise FolderInUseError(folder, owner, proven)
        # The holder may have released (and deleted) the file between our
        # open and our lock: then this file is no longer the lock.
        try:
            current = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            current = False
        if current:
            break
        os.close(fd)
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, json.dumps(_this_process()).encode("utf-8"))
    os.fsync(fd)
    return FolderLock(folder, fd, owner)


def check_not_in_use(folder):
    """Raises `FolderInUseError` if another live process holds the lock of
    `folder`; takes nothing (a lock this process could take is given back
    at once, and its file left as it was).

    A check before work that `lock_folder` repeats when the folder is
    taken: a folder free now may be taken in between.
    """
    try:
        fd = os.open(os.path.join(folder, LOCK_NAME), os.O_RDWR)
    except OSError:
        return  # no lock file (or none this process may open): not held
    try:
        taken, owner, proven = _take(fd)
    finally:
        os.close(fd)  # gives back a flock taken on it
    if not taken:
        raise FolderInUseError(folder, owner, proven)


def describe_owner(owner):
    """ "process 123 on host h, started 2026-12-05 21:40:00 UTC"."""
    if not owner:
        return "another run (its lock file could not be read)"
    return (
        f"process {owner.get('pid')} on host {owner.get('host')}, started "
        f"{owner.get('started')}"
    )


def _take(fd):
    """`(taken, owner, proven)`: whether `fd` is now locked by this
    process, the record in the file (a live holder's, or a stale one's),
    and whether the operating system's lock decided it."""
    owner = _read(fd)
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True, owner, True
        except BlockingIOError:
            return False, owner, True
        except OSError as error:
            if error.errno not in _NO_LOCKS:
                raise
    return owner is None or _is_dead(owner), owner, False


def _is_dead(owner):
    """Whether the recorded process provably no longer runs."""
    # On Windows os.kill(pid, 0) would end the process, not probe it.
    if os.name == "nt" or owner.get("host") != socket.gethostname():
        return False
    try:
        os.kill(int(owner["pid"]), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, KeyError, TypeError, ValueError):
        return False
    return False


def _read(fd):
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 4096).decode("utf-8")
        return json.loads(text) if text.strip() else None
    except (OSError, ValueError):
        return None


def _this_process():
    started = datetime.datetime.now(datetime.timezone.utc)
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": started.strftime("%Y-%m-%d %H:%M:%S UTC"),
    }
