"""kvae across 2 torch processes (`torch.distributed`, gloo, loopback).

The processes are started as torchrun starts them (`RANK`, `WORLD_SIZE`,
`MASTER_ADDR`, `MASTER_PORT`) on 127.0.0.1 and a free port, and the recipe
by torchrun itself; every wait is bounded (`tests/distribution/cases.py`).
Only under `KERAS_BACKEND=torch`: once per CI run.
"""

import os
import sys

import keras
import pytest

from kvae.utils import free_port
from tests.distribution import cases
from tests.distribution import launch

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        keras.backend.backend() != "torch",
        reason="runs under KERAS_BACKEND=torch (once per CI run)",
    ),
]


def torchrun_envs(**variables):
    return launch.envs("torch", **variables)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("torch_processes")
    single, results = cases.train_alone_and_together(
        "torch", torchrun_envs(), root
    )
    return single, results, root


def test_two_processes_train_as_one_over_the_global_batches(runs):
    single, results, _ = runs
    # Each process started from other weights: process 0's were copied.
    cases.assert_same_training(single, results)


def test_each_process_draws_its_own_noise(runs):
    single, results, _ = runs
    cases.assert_own_noise(single, results)


def test_non_trainable_state_of_two_processes(runs):
    single, results, _ = runs
    # kvae averages what each step changed in the float non-trainable
    # variables, in the all_reduce of the gradients.
    cases.assert_normalized_state(single, results, "averaged")


def test_model_saved_by_two_processes_loads_and_trains_here(runs):
    _, results, root = runs
    cases.assert_loads_and_trains(root / "two" / "model.keras", results[0])


@pytest.fixture(scope="module")
def failures(tmp_path_factory):
    root = tmp_path_factory.mktemp("torch_failures")
    timeout = {"KVAE_DISTRIBUTED_TIMEOUT": str(cases.TIMEOUT)}
    return cases.lose_a_process(
        "torch", lambda mode: torchrun_envs(**timeout), root
    )


@pytest.mark.parametrize("mode", ["die", "stall"])
def test_a_lost_process_stops_the_other_with_a_clear_error(failures, mode):
    cases.assert_stopped_clearly(
        failures[mode],
        "Process 0 of 2: a collective with the other processes failed",
    )
    assert f"within {cases.TIMEOUT} s" in failures[mode][1]


def test_recipe_under_torchrun_writes_from_process_zero_only(
    shared_data, tmp_path
):
    out = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node",
        "2",
        "--master-addr",
        launch.HOST,
        "--master-port",
        str(free_port()),
        os.path.join(launch.ROOT, "recipes", "kmnist.py"),
        *cases.recipe_flags(shared_data, out),
    ]
    with launch.Processes("torch", [command], [{}], tmp_path) as run:
        run.assert_succeeded(timeout=300)
    cases.assert_written_by_one_process(out)
