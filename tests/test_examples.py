"""Every script in examples/ runs (on small data) and prints what it promises."""

import runpy
import sys
import tempfile
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NEEDS = {"textbook_paths.py": "matplotlib", "classification.py": "sklearn"}
ARGS = {"out_of_core.py": ["20000"]}


def test_every_example_is_covered():
    assert {p.name for p in EXAMPLES.glob("*.py")} == {
        "textbook_paths.py",
        "classification.py",
        "out_of_core.py",
        "watching_a_fit.py",
    }


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_example_runs(name, tmp_path, monkeypatch, capsys):
    if name in NEEDS:
        pytest.importorskip(NEEDS[name])
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [name, *ARGS.get(name, [])])
    scratch = tmp_path / "tmp"  # the temporary files an example makes land here, and must not stay
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    out = capsys.readouterr().out
    expected = {
        "textbook_paths.py": "wrote textbook_paths.png",
        "classification.py": "softmax regression: accuracy",
        "out_of_core.py": "normal equation (one read of the file)",
        "watching_a_fit.py": "stopped by the callback after epoch",
    }[name]
    assert expected in out
    if name == "textbook_paths.py":
        assert (tmp_path / "textbook_paths.png").stat().st_size > 10_000
    assert list(scratch.iterdir()) == []
