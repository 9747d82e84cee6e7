"""A run owns its output folder while it runs: a second run is refused
without touching anything, a killed run's lock never blocks the next run,
and a refused rerun keeps a killed run's partial history."""

import json
import os
import signal
import subprocess
import sys
import time

import keras
import pytest

from kvae import experiment
from kvae.experiment import report
from kvae.utils import files
from kvae.utils import folder_lock

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
# Exactly the name train_and_evaluate gives the history it is writing.
PARTIAL_HISTORY = files.partial_name("history.csv") + "csv"
# A child that takes a folder's lock and waits; it imports only the lock
# module (no Keras), so it starts at once.
HOLDER = """
import importlib.util, sys, time
spec = importlib.util.spec_from_file_location("lock", sys.argv[1])
lock = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lock)
held = lock.lock_folder(sys.argv[2])
print("locked", flush=True)
time.sleep(300)
"""


def hold_lock(folder):
    """A child process holding `folder`'s lock (kill it when done)."""
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, folder_lock.__file__, str(folder)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout.readline().strip() == "locked"
    return child


def snapshot(folder):
    """`{name: bytes}` of every file in `folder`."""
    return {
        name: (folder / name).read_bytes()
        for name in sorted(os.listdir(folder))
        if (folder / name).is_file()
    }


def previous_run(folder):
    """A folder as a killed run leaves it, plus a file that is not kvae's
    and a temporary file of another program's."""
    folder.mkdir()
    (folder / "reconstructions.gif").write_bytes(b"GIF89a")
    (folder / PARTIAL_HISTORY).write_text("epoch,loss\n0,1.0\n")
    (folder / "notes.txt").write_text("mine")
    (folder / (files.partial_name("notes.txt") + "x")).write_text("theirs")


def test_a_folder_in_use_is_refused_untouched_even_with_overwrite(tmp_path):
    out = tmp_path / "run"
    previous_run(out)
    child = hold_lock(out)
    try:
        before = snapshot(out)
        with pytest.raises(experiment.RunError) as info:
            report.prepare_output(str(out), overwrite=True)
        message = str(info.value)
        assert (
            f"is in use by another run: process {child.pid} on host" in message
        )
        assert "Nothing in it was changed" in message
        assert "Wait for that run to end, or choose another --out." in message
        assert snapshot(out) == before
    finally:
        child.kill()
        child.wait()


def test_a_killed_runs_lock_is_stale_and_its_partial_history_kept(tmp_path):
    out = tmp_path / "run"
    previous_run(out)
    child = hold_lock(out)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert folder_lock.LOCK_NAME in os.listdir(out)
    history = (out / PARTIAL_HISTORY).read_bytes()

    # A rerun without --overwrite is refused and deletes nothing: the
    # killed run's partial history counts as its file.
    with pytest.raises(experiment.RunError) as info:
        report.prepare_output(str(out))
    message = str(info.value)
    assert "holds a previous run's files" in message
    assert f"{PARTIAL_HISTORY}, reconstructions.gif" in message
    assert (out / PARTIAL_HISTORY).read_bytes() == history

    # With --overwrite the killed run's lock does not block: its files go,
    # the others stay, and the folder is this process's until released.
    with report.prepare_output(str(out), overwrite=True) as lock:
        assert lock.deleted == [PARTIAL_HISTORY, "reconstructions.gif"]
        names = sorted(os.listdir(out))
        assert names == sorted(
            [
                folder_lock.LOCK_NAME,
                "notes.txt",
                files.partial_name("notes.txt") + "x",
            ]
        )
        record = json.loads((out / folder_lock.LOCK_NAME).read_text())
        assert record["pid"] == os.getpid()
        with pytest.raises(experiment.RunError, match="in use by another"):
            report.prepare_output(str(out), overwrite=True)
    assert folder_lock.LOCK_NAME not in os.listdir(out)


def recipe_command(shared_data, out, *extra):
    return [
        sys.executable,
        os.path.join(ROOT, "recipes", "kmnist.py"),
        "--manual-dir",
        os.path.join(shared_data, "kmnist"),
        "--train-split",
        "test[:64]",
        "--test-split",
        "test[9900:]",
        "--batch-size",
        "32",
        "--latent-dim",
        "2",
        "--filters",
        "4",
        "--dense-units",
        "8",
        "--score-images",
        "0",
        "--iwae-samples",
        "2",
        "--iwae-examples",
        "8",
        "--gifs",
        "reconstructions",
        "--plots",
        "--no-tensorboard",
        "--verbose",
        "0",
        "--out",
        str(out),
        *extra,
    ]


def wait_for_lock(out, pid, process, timeout=300):
    """Waits until process `pid` holds `out`'s lock."""
    path = out / folder_lock.LOCK_NAME
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[0][-3000:]
        try:
            if json.loads(path.read_text())["pid"] == pid:
                return
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"process {pid} never locked {out}")


@pytest.mark.slow
@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="the lock is the same on every backend: tested once",
)
def test_a_second_recipe_run_into_a_running_runs_folder(shared_data, tmp_path):
    out = tmp_path / "run"
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(
            p for p in (ROOT, os.environ.get("PYTHONPATH")) if p
        ),
    )
    first = subprocess.Popen(
        recipe_command(shared_data, out, "--epochs", "2"),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for_lock(out, first.pid, first)
        # Paused while it holds the folder: the second run meets it there.
        first.send_signal(signal.SIGSTOP)
        before = snapshot(out)
        second = subprocess.run(
            recipe_command(shared_data, out, "--epochs", "1", "--overwrite"),
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert second.returncode == 1, second.stderr[-3000:]
        assert (
            f"is in use by another run: process {first.pid} on host"
            in second.stderr
        )
        assert snapshot(out) == before
        first.send_signal(signal.SIGCONT)
        output = first.communicate(timeout=300)[0]
        assert first.returncode == 0, output[-3000:]
    finally:
        if first.poll() is None:
            first.send_signal(signal.SIGCONT)
            first.kill()
            first.wait()
    names = sorted(os.listdir(out))
    rows = (out / "history.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + 2
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == 2
    assert metrics["files"] == [n for n in names if n in metrics["files"]]
    assert not [n for n in names if n.startswith(".")], names
