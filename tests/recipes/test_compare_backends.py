import importlib.util
import json
import textwrap

import pytest

from kvae import experiment

# Writes a metrics.json like a recipe's, fails under torch, and never
# imports Keras: the bookkeeping is tested in seconds. test_kmnist.py feeds
# a real run's metrics.json to the same table.
FAKE_RECIPE = textwrap.dedent(
    """
    import json, os, sys

    backend = os.environ["KERAS_BACKEND"]
    if backend == "torch":
        sys.exit("boom")
    out = sys.argv[sys.argv.index("--out") + 1]
    os.makedirs(out, exist_ok=True)
    speed = {"tensorflow": 1000.0, "jax": 500.0}[backend]
    metrics = {
        "backend": backend, "train_img_per_s": speed, "epoch_s": 2.5,
        "negative_elbo": 120.0, "iwae_nll": 115.0, "ssim": 0.7,
        "psnr": 18.0, "train_examples": 256, "test_examples": 200,
        "epochs": int(sys.argv[sys.argv.index("--epochs") + 1]),
    }
    with open(os.path.join(out, "metrics.json"), "w") as f:
        json.dump(metrics, f)
    """
)


def _pretend_missing(monkeypatch, missing):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == missing else find_spec(name, *a),
    )


def test_table_plot_missing_and_failed_backends(tmp_path, monkeypatch):
    recipe = tmp_path / "fake_recipe.py"
    recipe.write_text(FAKE_RECIPE)
    _pretend_missing(monkeypatch, "jax")
    out = tmp_path / "compare"
    rows = experiment.compare_backends(
        str(recipe),
        ["--epochs", "3"],
        str(out),
        backends=("tensorflow", "jax", "torch"),
    )
    status = {r["backend"]: r["status"] for r in rows}
    assert status["tensorflow"] == "ok"
    assert status["jax"] == "not installed"
    assert status["torch"].startswith("failed (exit 1)")
    assert "boom" in (out / "torch.log").read_text()

    table = (out / "comparison.md").read_text()
    lines = [line for line in table.splitlines() if line.startswith("|")]
    assert "train img/s" in lines[0] and "IWAE NLL" in lines[0]
    assert "epoch s" in lines[0] and "PSNR" in lines[0]
    tf_row = next(line for line in lines if line.startswith("| tensorflow"))
    assert "| 1000 |" in tf_row and "| 120.00 |" in tf_row
    assert "not installed" in next(
        line for line in lines if line.startswith("| jax")
    )
    with open(out / "comparison.png", "rb") as f:
        assert f.read(4) == b"\x89PNG"
    saved = json.loads((out / "comparison.json").read_text())
    assert [r["backend"] for r in saved] == ["tensorflow", "jax", "torch"]
    assert saved[0]["epochs"] == 3


def test_a_previous_comparison_is_refused_before_anything_runs(tmp_path):
    recipe = tmp_path / "fake_recipe.py"
    recipe.write_text(FAKE_RECIPE)
    out = tmp_path / "compare"

    def compare(**kwargs):
        return experiment.compare_backends(
            str(recipe),
            ["--epochs", "2"],
            str(out),
            backends=("tensorflow",),
            **kwargs,
        )

    compare()
    metrics = out / "tensorflow" / "metrics.json"
    first = metrics.stat().st_mtime_ns
    table = (out / "comparison.md").read_text()
    with pytest.raises(experiment.RunError, match="--overwrite"):
        compare()
    assert metrics.stat().st_mtime_ns == first
    assert (out / "comparison.md").read_text() == table

    (out / "mine.txt").write_text("kept")
    (out / "tensorflow" / "old.txt").write_text("the previous run's")
    rows = compare(overwrite=True)
    assert not (out / "tensorflow" / "old.txt").exists()
    assert [r["status"] for r in rows] == ["ok"]
    assert (out / "mine.txt").read_text() == "kept"
    assert metrics.exists()


def test_the_command_line_is_checked_before_any_backend_runs(
    load_recipe, tmp_path
):
    main = load_recipe("compare_backends").main
    out = tmp_path / "compare"
    for bad in (["--backends", "tensorflo"], ["--epochs", "-1"]):
        with pytest.raises(SystemExit) as exit_info:
            main([*bad, "--out", str(out)])
        assert exit_info.value.code == 2
        assert not out.exists()


@pytest.mark.slow
def test_a_comparison_where_no_backend_finished_is_an_error(
    load_recipe, tmp_path
):
    main = load_recipe("compare_backends").main
    out = tmp_path / "compare"
    argv = ["--backends", "tensorflow", "--out", str(out)]
    argv += ["--manual-dir", str(tmp_path / "no-data")]
    with pytest.raises(experiment.RunError, match="No backend finished"):
        main(argv)
    assert "failed (exit 2)" in (out / "comparison.md").read_text()
