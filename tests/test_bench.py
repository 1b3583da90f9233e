"""``fastgd bench`` on tiny data: the table, the JSON, and peers that do the same work.

Speed is never asserted here: at these sizes the figures mean nothing, and these machines are
shared.  The benchmark itself is ``fastgd bench`` (see fastgd/bench/).
"""

import ast
import contextlib
import io
import json
import math
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import fastgd
from fastgd import bench
from fastgd.cli import main as cli_main

COLUMNS = ("work", "fastgd", "peer", "ratio", "target", "met")
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Every row at the tiny preset, once: (exit code, printed text, the JSON report)."""
    path = tmp_path_factory.mktemp("bench") / "results.json"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = bench.main(["--preset", "tiny", "--json", str(path)])
    return code, out.getvalue(), json.loads(path.read_text())


def test_every_row_runs_and_reports(tiny):
    code, _, report = tiny
    assert code == 0
    assert {row["name"] for row in report["rows"]} == set(bench.BENCHES)
    assert report["preset"] == "tiny"
    assert set(report["seconds_per_bench"]) == set(bench.BENCHES)


def test_every_ratio_is_a_finite_positive_number(tiny):
    _, _, report = tiny
    for row in report["rows"]:
        assert set(COLUMNS) <= set(row)
        assert row["work"] and row["target"]
        if row["ratio"] is None:  # skipped, with the reason
            assert row["met"] is None and row["note"].startswith("skipped: ")
        else:
            assert isinstance(row["ratio"], float) and math.isfinite(row["ratio"]) and row["ratio"] > 0, row
            assert row["met"] in (True, False, None)
            assert row["figures"]


def test_the_table_has_every_column_and_row(tiny):
    _, out, report = tiny
    lines = out.splitlines()
    header = next(line for line in lines if line.split()[:1] == ["work"])
    assert header.split() == list(COLUMNS)
    for k, row in enumerate(report["rows"], 1):
        line = next(line for line in lines if line.startswith(f"[{k}] ") and row["work"] in line)
        assert line.split()[-1] in ("yes", "no", "skipped", "-")
    assert "figures in" in lines[-1]


def test_the_machine_is_recorded(tiny):
    _, out, report = tiny
    machine = report["machine"]
    for key in ("cpu_count", "numba_threading_layer", "numba_threads", "threadpools", "versions", "environment"):
        assert key in machine
    assert machine["versions"]["numpy"] == np.__version__
    assert machine["versions"]["fastgd"] == fastgd.__version__
    assert "BLAS" in out and "numba" in out


def test_no_json_is_written_unless_asked(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert bench.main(["--preset", "tiny", "--only", "float32"]) == 0
    assert list(tmp_path.iterdir()) == []
    out = capsys.readouterr().out
    assert "same pass, float32 vs float64" in out
    assert out.splitlines()[-1].endswith("figures not saved (--json PATH saves them)")


def test_only_some_rows_from_the_fastgd_command(tmp_path, capsys):
    path = tmp_path / "r.json"
    assert cli_main(["bench", "--preset", "tiny", "--only", "float32", "threads", "--json", str(path)]) == 0
    rows = json.loads(path.read_text())["rows"]
    assert [row["name"] for row in rows] == ["float32", "threads"]
    assert "same pass, float32 vs float64" in capsys.readouterr().out


def test_the_fastgd_command_imports_no_row_until_bench_runs():
    """``fastgd demo`` and ``fastgd bench --help`` load fastgd.bench and its argparse module only:
    the rows (numba code, the peers) are imported when ``fastgd bench`` runs."""
    code = (
        "import contextlib, io, sys\n"
        "import fastgd.cli\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert fastgd.cli.main(['demo', '--n', '50']) == 0\n"
        "    try:\n"
        "        fastgd.cli.main(['bench', '--help'])\n"
        "    except SystemExit as exc:\n"
        "        assert exc.code == 0\n"
        "print(sorted(m for m in sys.modules if m.startswith('fastgd.bench')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert ast.literal_eval(out.stdout.splitlines()[-1]) == ["fastgd.bench", "fastgd.bench._args"]


def test_the_options_name_every_row_and_preset():
    assert bench._args.ROWS == tuple(bench.BENCHES)
    assert bench._args.PRESET_NAMES == tuple(bench.PRESETS)


def test_python_dash_m_fastgd_bench():
    out = subprocess.run(
        [sys.executable, "-m", "fastgd.bench", "--help"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    assert "--json PATH" in out.stdout and "--only NAME" in out.stdout


def test_slow_blas_settings_are_named_never_changed():
    environ = {"OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_L2_SIZE": "1048576"}
    lines = bench.env_warnings(environ)
    assert len(lines) == 2 and all(line.startswith("warning:") for line in lines)
    assert environ == {"OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_L2_SIZE": "1048576"}
    assert bench.env_warnings({}) == []


def test_skipped_and_informative_rows_print():
    rows = [
        bench._skipped("torch", "mini-batch", "≥ 20 ×", "torch is not installed"),
        bench.Row("levers", "SGD lever", "1 samples/s", "2 samples/s", 0.5, "(info)", None),
        bench.Row("sgd", "SGD", "3 samples/s", "1 samples/s", 3.0, "≥ 6 ×", False, note="a note"),
    ]
    lines = bench.format_table(rows).splitlines()
    assert [line.split()[-1] for line in lines[2:5]] == ["skipped", "-", "no"]
    assert "[1] skipped: torch is not installed" in lines
    assert "[3] a note" in lines


def test_linear_fit_of_the_scaling_row():
    ns = np.array([1e3, 1e4, 1e5])
    a, b, r2, worst = bench._linear_fit(ns, 0.01 + 2e-8 * ns)
    assert a == pytest.approx(0.01) and b == pytest.approx(2e-8)
    assert r2 == pytest.approx(1.0) and worst < 1e-9


@pytest.fixture
def standardized():
    return bench._standardized(500, 3, seed=0)


def _fastgd(X, y, method, eta, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fastgd.fit(
            X, y, method=method, learning_rate=eta, max_epochs=2, tol=0, init="zeros", shuffle=False, **kwargs
        )
    return np.concatenate(([res.intercept], res.coef))


def test_numpy_minibatch_peer_takes_fastgds_steps(standardized):
    X, y = standardized
    orders = [np.arange(len(y))] * 2
    ours = _fastgd(X, y, "minibatch", 0.01, batch_size=bench.BATCH_SIZE)
    intercept, coef = bench.numpy_minibatch(X, y, 0.01, bench.BATCH_SIZE, orders)
    np.testing.assert_allclose(np.concatenate(([intercept], coef)), ours, rtol=1e-9)


def test_torch_peer_takes_fastgds_steps(standardized):
    torch = pytest.importorskip("torch")
    X, y = standardized
    orders = [torch.arange(len(y))] * 2
    ours = _fastgd(X, y, "minibatch", 0.01, batch_size=bench.BATCH_SIZE)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y).unsqueeze(1)
    intercept, coef = bench.torch_minibatch(torch, Xt, yt, 0.01, bench.BATCH_SIZE, orders)
    np.testing.assert_allclose(np.concatenate(([intercept], coef)), ours, rtol=1e-9)


def test_sklearn_peer_takes_fastgds_steps_at_twice_the_rate(standardized):
    """scikit-learn's squared_error is ½(p - y)²: eta0 = 2 η gives fastgd's trajectory."""
    linear_model = pytest.importorskip("sklearn.linear_model")
    X, y = standardized
    ours = _fastgd(X, y, "sgd", 1e-3)
    model = linear_model.SGDRegressor(
        loss="squared_error", penalty=None, learning_rate="constant", eta0=2e-3, max_iter=2, tol=None, shuffle=False
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    np.testing.assert_allclose(np.concatenate((model.intercept_, model.coef_)), ours, rtol=1e-9)


def test_the_bandwidth_probe_reads_every_element():
    X = np.arange(12.0).reshape(4, 3)
    assert bench.stream_sum(X.reshape(-1), 5) == pytest.approx(66.0)
    assert bench.stream_sum(X.astype(np.float32).reshape(-1), bench.PROBE_BLOCK) == pytest.approx(66.0)


def test_dask_bench_runs_on_a_local_cluster(tmp_path):
    """``fastgd bench --dask`` at a tiny size: every row, beside dask-ml (needs fastgd[bench])."""
    pytest.importorskip("distributed")
    pytest.importorskip("dask_ml")
    path = tmp_path / "dask.json"
    out = io.StringIO()
    with contextlib.redirect_stdout(out), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = bench.main(["--dask", "--preset", "tiny", "--json", str(path)])
    assert code == 0
    report = json.loads(path.read_text())
    assert [row["name"] for row in report["rows"]] == ["dask"] * 3
    for row in report["rows"]:
        assert math.isfinite(row["ratio"]) and row["ratio"] > 0 and row["met"] in (True, False)
    excess = report["dask"]["exact_relative_excess"]
    assert excess["normal"] <= 1e-9 and excess["batch"] <= 1e-9
    assert "dask-ml admm" in out.getvalue() or "dask-ml lbfgs" in out.getvalue()
