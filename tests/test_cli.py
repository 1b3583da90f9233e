"""The fastgd command: demo and fit."""

import re
import subprocess
import sys

import numpy as np
import pytest
from conftest import lstsq

import fastgd
from fastgd.cli import main


def test_demo_prints_the_five_methods_beside_lstsq(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    rows = {
        line.split()[0]: line
        for line in out.splitlines()
        if line.split() and line.split()[0] in ("normal", "svd", "batch", "sgd", "minibatch", "lstsq")
    }
    assert set(rows) == {"normal", "svd", "batch", "sgd", "minibatch", "lstsq"}
    X, y = fastgd.make_linear(100, 1, random_state=42)
    theta, loss = lstsq(X, y)
    assert f"[{theta[0]:.4f}, {theta[1]:.4f}]" in rows["lstsq"]
    assert f"[{theta[0]:.4f}, {theta[1]:.4f}]" in rows["normal"]
    for method in ("normal", "svd", "batch", "sgd", "minibatch"):
        mse = float(rows[method].split("]")[1].split()[0])
        assert mse == pytest.approx(loss, rel=0.05)
        assert re.search(r"\d+\.\dms", rows[method])


def test_demo_scales_and_takes_float32(capsys):
    assert main(["demo", "--n", "3000", "--d", "3", "--dtype", "float32", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "m=3000 d=3 dtype=float32 seed=1" in out
    assert "…]" in out  # θ has 4 entries: the table shows the first three


def test_fit_csv_by_column_name(tmp_path, capsys):
    X, y = fastgd.make_linear(200, 2, random_state=3)
    path = tmp_path / "data.csv"
    np.savetxt(path, np.column_stack((X, y)), delimiter=",", header="a,b,price", comments="")
    assert main(["fit", str(path), "--target", "price", "--method", "normal"]) == 0
    out = capsys.readouterr().out
    theta, _ = lstsq(X, y)
    values = dict(line.split() for line in out.splitlines()[-3:])
    np.testing.assert_allclose([float(values[k]) for k in ("intercept", "a", "b")], theta, rtol=1e-8)


def test_fit_npz_and_npy(tmp_path, capsys):
    X, y = fastgd.make_linear(100, 1, random_state=4)
    np.savez(tmp_path / "xy.npz", X=X, y=y)
    np.save(tmp_path / "table.npy", np.column_stack((y, X)))
    theta, _ = lstsq(X, y)
    for args in (["fit", str(tmp_path / "xy.npz")], ["fit", str(tmp_path / "table.npy"), "--target", "0"]):
        assert main([*args, "--method", "svd"]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert float(lines[-2].split()[1]) == pytest.approx(theta[0], rel=1e-8)
        assert float(lines[-1].split()[1]) == pytest.approx(theta[1], rel=1e-8)


def test_fit_errors_are_clear(tmp_path, capsys):
    path = tmp_path / "data.csv"
    path.write_text("a,b\n1,2\n3,4\n")
    with pytest.raises(SystemExit, match="--target 'c' is not a column"):
        main(["fit", str(path), "--target", "c"])
    path.write_text("a,b\n1,x\n3,4\n")
    with pytest.raises(SystemExit, match="not a numeric CSV table"):
        main(["fit", str(path), "--target", "a"])
    path.write_text("a,b\n1,2,3\n4,5,7\n")
    with pytest.raises(SystemExit, match="the header names 2 columns but the rows have 3"):
        main(["fit", str(path), "--target", "a"])
    path.write_text("a,b\n1,nan\n3,4\n5,6\n")
    assert main(["fit", str(path), "--target", "a"]) == 2
    assert "X contains nan at row 0, column 0" in capsys.readouterr().err


def test_console_script_runs_as_a_module():
    out = subprocess.run([sys.executable, "-m", "fastgd", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "demo" in out.stdout and "fit" in out.stdout


def _cli(*args, cwd=None):
    """(exit status, stdout, stderr) of the fastgd command run as a user would."""
    out = subprocess.run([sys.executable, "-m", "fastgd", *args], capture_output=True, text=True, cwd=cwd)
    return out.returncode, out.stdout, out.stderr


def _malformed(tmp_path):
    """Each malformed input, with the words its one-line error must hold."""
    (tmp_path / "header.csv").write_text("a,b\n")
    (tmp_path / "cell.csv").write_text("size,rooms,price\n1,2,3\n4,five,6\n")
    (tmp_path / "latin1.csv").write_bytes("a,b\n1,2\n\xe9,3\n".encode("latin-1"))
    (tmp_path / "junk.npz").write_text("not a zip")
    np.savez(tmp_path / "objects.npz", a=np.array([{"x": 1}], dtype=object))
    (tmp_path / "folder").mkdir()
    return [
        (["fit", "missing.csv", "--target", "a"], "missing.csv: no such file"),
        (["fit", "folder", "--target", "a"], "folder: is a directory"),
        (["fit", "header.csv", "--target", "a"], "header.csv: the header names the columns ['a', 'b'] but no data row"),
        (
            ["fit", "cell.csv", "--target", "price"],
            "cell.csv: not a numeric CSV table: line 3, column 'rooms' holds 'five'",
        ),
        (["fit", "latin1.csv", "--target", "a"], "latin1.csv: not a UTF-8 text file"),
        (["fit", "junk.npz"], "junk.npz: not a NumPy .npz archive"),
        (["fit", "objects.npz"], "objects.npz: cannot read it as a NumPy .npz archive"),
        (["fit", "cell.csv", "--target", "price", "--learning-rate", "fast"], "expected a positive number or 'auto'"),
        (["demo", "--n", "1"], "the demo needs --d >= 1 and more samples than features"),
        (["demo", "--plot", "nowhere/paths.png"], "the folder"),
    ]


def test_every_malformed_input_is_one_line_and_exit_2(tmp_path):
    for args, words in _malformed(tmp_path):
        code, out, err = _cli(*args, cwd=tmp_path)
        assert code == 2, (args, code, err)
        lines = err.strip().splitlines()
        assert words in lines[-1], (args, err)
        assert lines[-1].startswith(("fastgd: error: ", "fastgd fit: error: ")), (args, err)
        assert "Traceback" not in err and out == "", (args, err)


def test_a_bom_and_warnings_as_a_user_sees_them(tmp_path):
    (tmp_path / "bom.csv").write_bytes("\ufeffsize,price\n1,2\n2,4.1\n3,5.9\n".encode())
    code, out, err = _cli("fit", "bom.csv", "--target", "price", "--method", "sgd", "--max-epochs", "2", cwd=tmp_path)
    assert code == 0
    assert out.splitlines()[-1].split()[0] == "size"  # the BOM is not part of the column's name
    assert err.startswith("fastgd: warning: ConvergenceWarning: stochastic gradient descent stopped at max_epochs=2")
    assert "fastgd/" not in err and ".py" not in err  # no source path


def test_help_version_and_plot_path(tmp_path):
    code, out, _ = _cli("--help")
    assert code == 0 and "``" not in out and all(f"fastgd {c}" in out for c in ("demo", "fit", "bench"))
    code, out, _ = _cli("fit", "--help")
    assert code == 0 and "(default: 1000)" in out and "(default: auto)" in out
    code, out, _ = _cli("--version")
    assert code == 0 and out.strip() == f"fastgd {fastgd.__version__}"
    code, out, _ = _cli("demo", "--plot", "paths", cwd=tmp_path)
    assert code == 0 and "written to paths.png" in out and (tmp_path / "paths.png").stat().st_size > 0
