"""fastgd.warmup: compiles (or loads) every kernel, showing its progress."""

import builtins

import numpy as np

import fastgd
from fastgd import _warmup


def test_warmup_shows_progress_and_leaves_fits_compiled(capsys):
    fastgd.warmup(dtypes=(np.float64,))
    err = capsys.readouterr().err
    assert "fastgd.warmup" in err and "13/13" in err  # tqdm's bar on stderr, to the last step (one dtype)
    X, y = fastgd.make_linear(64, 2)
    stats = fastgd.kernels.sgd_epoch.stats
    before = sum(stats.cache_misses.values())
    fastgd.fit(X, y, method="sgd", max_epochs=2, random_state=0)
    assert sum(stats.cache_misses.values()) == before  # nothing left to compile


def test_after_warmup_a_large_fit_compiles_nothing_more(monkeypatch):
    """A large fit cuts its passes into calls (``runner.SLICE_WORK``); the small fits of warmup
    make them whole: warmup compiles the cut paths' own kernels too (the passes' last step, the
    first pass's blocks), so that the first large fit pays no compilation either."""
    fastgd.warmup(dtypes=(np.float64,), progress=False)
    kernels = (fastgd.kernels.combine_blocks, fastgd.kernels.column_blocks, fastgd.kernels.combine_column_blocks)
    before = [len(k.signatures) for k in kernels]
    monkeypatch.setattr("fastgd._dispatch.SLICE_WORK", 1)  # every pass cut, as on data above SLICE_WORK
    X, y = fastgd.make_linear(3 * fastgd.kernels.CHUNK, 4, random_state=0)
    for kwargs in ({}, {"fit_intercept": False}):
        fastgd.fit(X, y, method="batch", precompute=False, max_epochs=3, **kwargs)
        fastgd.fit(X, y > np.median(y), loss="softmax", method="batch", max_epochs=3, **kwargs)
        fastgd.fit(X, y, method="sgd", max_epochs=2, random_state=0, **kwargs)
    assert [len(k.signatures) for k in kernels] == before


def test_without_tqdm_a_line_a_step(monkeypatch, capsys):
    real = builtins.__import__

    def no_tqdm(name, *args, **kwargs):
        if name.startswith("tqdm"):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tqdm)
    update = _warmup._bar(3)
    for k, what in enumerate(("a", "b", "done")):
        update(k + 1, what)
    assert capsys.readouterr().err.splitlines() == [
        "fastgd.warmup: 1/3 a",
        "fastgd.warmup: 2/3 b",
        "fastgd.warmup: 3/3 done",
    ]


def test_warmup_can_be_quiet(capsys):
    fastgd.warmup(dtypes=(np.float64,), progress=False)
    assert capsys.readouterr().err == ""
