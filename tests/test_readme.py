"""README.md is the user's guide: every ```python block in it runs as pasted, on its own.

Each block is written to a file in a fresh temporary directory and run there by a fresh
interpreter (so a block can use nothing that another block defined, and the files it writes
land outside the repository), with matplotlib's Agg backend and RuntimeWarning as an error.
The block fails on a non-zero exit and on any warning it prints. ```bash and ```text blocks
are not run; the quick start's test command must be the one CI runs (.ci/run).
"""

import os
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
CI = ROOT / ".ci" / "run"
MAX_LINES = 400
#: seconds a block may take: the first run of a block compiles its kernels into numba's cache
TIMEOUT = 600


class Block(NamedTuple):
    language: str
    line: int  #: line number of the opening fence in README.md (from 1)
    text: str


def fenced_blocks(text):
    """Every fenced block (```lang ... ```) of a Markdown text, in order."""
    blocks, language, start, body = [], None, 0, []
    for number, line in enumerate(text.splitlines(), 1):
        fence = line.strip()
        if language is None:
            if fence.startswith("```"):
                language, start, body = fence[3:].strip() or "", number, []
        elif fence == "```":
            blocks.append(Block(language, start, "\n".join(body) + "\n"))
            language = None
        else:
            body.append(line)
    assert language is None, f"README.md: the block opened on line {start} is never closed"
    return blocks


BLOCKS = fenced_blocks(README.read_text(encoding="utf-8"))
PYTHON = [b for b in BLOCKS if b.language == "python"]


def _block_id(block):
    first = next((line.strip() for line in block.text.splitlines() if line.strip()), "")
    return f"{PYTHON.index(block) + 1}-{first[:40]}"


def test_readme_has_python_blocks():
    assert len(PYTHON) >= 5, [b.line for b in PYTHON]
    assert {b.language for b in BLOCKS} <= {"python", "bash", "text"}, "name each block's language"


@pytest.mark.parametrize("block", PYTHON, ids=_block_id)
def test_python_block_runs(block, tmp_path):
    script = tmp_path / f"readme_block_{PYTHON.index(block) + 1}.py"
    script.write_text(block.text, encoding="utf-8")
    env = dict(
        os.environ,
        MPLBACKEND="Agg",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    env.pop("PYTHONWARNINGS", None)
    try:
        proc = subprocess.run(
            [sys.executable, "-W", "error::RuntimeWarning", script.name],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
    except subprocess.TimeoutExpired as exc:
        stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else exc.stderr
        pytest.fail(f"README.md, the block on line {block.line}, ran past {TIMEOUT} s:\n{block.text}\n{stderr}")
    report = f"README.md, the block on line {block.line}:\n{block.text}\n--- stdout\n{proc.stdout}\n"
    report += f"--- stderr\n{proc.stderr}"
    assert proc.returncode == 0, report
    assert "Warning:" not in proc.stderr, report


def test_readme_is_short():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) < MAX_LINES, f"README.md has {len(lines)} lines; the guide stays under {MAX_LINES}"


def _quick_start():
    text = README.read_text(encoding="utf-8")
    start = text.index("\n## Quick start\n")
    end = text.index("\n## ", start + 1)
    return [b.text.strip() for b in fenced_blocks(text[start:end])]


def test_quick_start_is_two_commands():
    assert _quick_start() == [
        "python -m pip install . && fastgd demo",
        'python -m pip install ".[test]" && python -m pytest -n auto',
    ]


def test_quick_start_test_command_is_what_ci_runs():
    lines = [line.strip() for line in CI.read_text(encoding="utf-8").splitlines()]
    runs = [line for line in lines if "pytest" in line and not line.startswith("#")]
    assert len(runs) == 1, runs
    assert _quick_start()[1] == runs[0]
