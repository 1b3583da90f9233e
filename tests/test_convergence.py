"""converged=True is a certificate: the optimality measure at the returned θ meets tol."""

import warnings

import numpy as np
import pytest

import fastgd
from fastgd.exceptions import ConvergenceWarning

METHODS = ("batch", "sgd", "minibatch")


def make_problem(n, d, seed, poly=False):
    """Columns with offsets in -100..1000 and spreads differing < 100x; y linear + noise."""
    rng = np.random.default_rng(seed)
    if poly:
        t = rng.uniform(1.0, 3.0, n)
        X = np.column_stack([t**k for k in range(1, d + 1)])  # polynomial design
        X = X + rng.uniform(-100, 1000, d)
    else:
        X = rng.standard_normal((n, d)) * rng.uniform(0.5, 40.0, d) + rng.uniform(-100, 1000, d)
    y = X @ rng.uniform(-2, 2, d) + 3.0 + rng.standard_normal(n)
    return X, y


def optimum(X, y):
    Xb = np.column_stack([np.ones(len(y)), X.astype(np.float64)])
    theta = np.linalg.lstsq(Xb, y.astype(np.float64), rcond=None)[0]
    return float(np.mean((Xb @ theta - y) ** 2))


def excess(res, X, y, best):
    X, y = X.astype(np.float64), y.astype(np.float64)
    pred = X @ np.asarray(res.coef, np.float64) + float(res.intercept)
    return (float(np.mean((pred - y) ** 2)) - best) / best


PROBLEMS = [(n, d, poly, {}) for n, d, poly in [
    (20, 1, False), (50, 2, False), (50, 3, True), (100, 5, False), (200, 2, True), (300, 4, False),
    (500, 1, False), (500, 3, False), (1000, 2, True), (2000, 5, False),
]] + [(100_000, 3, False, dict(max_epochs=3)), (100_000, 2, True, dict(max_epochs=3))]  # fmt: skip


#: the sweep's tol: SGD's decaying rates reach a relative excess of 1e-6 only after many epochs
SWEEP_TOL = 1e-4


def test_sweep_converged_means_optimal():
    fits = converged = converged_std = fits_std = 0
    worst = 0.0
    bad, measures, by_method = [], {}, {}
    for k, (n, d, poly, extra) in enumerate(PROBLEMS):
        X64, y64 = make_problem(n, d, k, poly)
        for dtype in (np.float64, np.float32):
            X, y = X64.astype(dtype), y64.astype(dtype)
            best = optimum(X, y)  # the optimum of the data the fit sees, in float64
            for method in METHODS:
                for standardize in (False, True):
                    for seed in range(3):
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            res = fastgd.fit(
                                X, y, method=method, standardize=standardize, random_state=seed, tol=SWEEP_TOL, **extra
                            )
                        fits += 1
                        fits_std += standardize
                        measures[res.optimality_measure] = measures.get(res.optimality_measure, 0) + 1
                        if res.converged:
                            converged += 1
                            converged_std += standardize
                            by_method[method] = by_method.get(method, 0) + 1
                            e = excess(res, X, y, best)
                            worst = max(worst, e)
                            if e > 1e-3:
                                bad.append((n, d, poly, dtype.__name__, method, standardize, seed, e, res.optimality))
    print(f"\nsweep: {fits} fits, {converged} converged ({converged_std} of {fits_std} with standardize=True); "
          f"worst relative excess among converged: {worst:.3g}")  # fmt: skip
    print(f"measures {measures}; converged by method {by_method}")
    assert fits >= 400
    assert not bad, bad
    assert converged_std >= fits_std / 2


def test_one_steep_direction_no_longer_stops_batch_gd_after_a_step():
    """Column 0 is 1000x steeper than column 1: the model-units gradient is all column 0's and
    falls by orders of magnitude after one step, while column 1's coefficient has barely moved."""
    rng = np.random.default_rng(0)
    n = 400
    X = np.column_stack([rng.standard_normal(n) * 50.0, rng.standard_normal(n) * 0.6])
    y = X @ [1.0, 3.0] + 2.0 + 0.1 * rng.standard_normal(n)
    best = optimum(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fastgd.fit(X, y, method="batch", tol=1e-3, max_epochs=200_000)
    assert res.n_epochs > 10
    if res.converged:
        assert excess(res, X, y, best) <= 1e-3 / (1 - 1e-3)
        assert res.optimality <= 1e-3


@pytest.mark.parametrize("method", ["normal", "svd", "auto", "batch", "sgd", "minibatch"])
def test_the_measure_is_reported_for_every_method(method):
    X, y = make_problem(200, 2, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fastgd.fit(X, y, method=method, standardize=True, random_state=0)
    assert np.isfinite(res.optimality)
    expected = "closed_form" if method in ("normal", "svd", "auto") else "excess_bound"
    assert res.optimality_measure == expected
    assert f"optimality={res.optimality:.3g} ({expected})" in repr(res)
    if method not in ("normal", "svd", "auto"):
        assert res.converged == (res.optimality <= 1e-6)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(loss="log", method="batch"), "std_gradient"),
        (dict(loss="log", method="sgd"), "std_gradient"),
        (dict(loss="hinge", method="sgd"), "objective_plateau"),
        (dict(loss="log", method="sgd", early_stopping=True), "validation_plateau"),
        (dict(method="batch", penalty="l1", alpha=0.1), "excess_bound"),
    ],
)
def test_the_other_measures(kwargs, name):
    X, y = make_problem(300, 3, 2)
    if kwargs.get("loss") in ("log", "hinge"):
        y = (y > np.median(y)).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fastgd.fit(X, y, standardize=True, random_state=0, **kwargs)
    assert res.optimality_measure == name
    assert res.optimality >= 0


NON_SMOOTH = {"hinge": "binary", "perceptron": "binary", "epsilon_insensitive": "regression"}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("loss", sorted(NON_SMOOTH))
def test_a_plateau_is_never_reported_as_convergence(loss, method, dtype):
    """A non-smooth loss stops on its objective's plateau: converged=False (no optimality measure
    was met), the message says why, and no ConvergenceWarning (the stopping rule did its job)."""
    X, y = make_problem(300, 3, 8)
    if NON_SMOOTH[loss] == "binary":
        y = np.where(y > np.median(y), 1.0, -1.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = fastgd.fit(X.astype(dtype), y.astype(dtype), method=method, loss=loss, standardize=True,
                         tol=1e-3, random_state=0)  # fmt: skip
    assert res.n_epochs < 1000 and res.optimality_measure == "objective_plateau"  # the plateau stopped it
    assert res.optimality <= 1e-3
    assert not res.converged and res.message.startswith("stopped on a plateau") and "converged=False" in res.message
    assert not [w for w in caught if issubclass(w.category, ConvergenceWarning)]


def test_a_plateau_far_from_the_optimum_is_not_called_converged():
    """The case that showed the plateau is no certificate: hinge + L2 by batch GD on unscaled blobs
    (std 20) with class weights 1000 : 0.0001 plateaus at tol=1e-3 with an objective over 1000x that
    of a longer fit (scikit-learn's check_class_weight_classifiers data).  It used to say converged=True."""
    from sklearn.datasets import make_blobs

    X, labels = make_blobs(n_samples=400, centers=2, cluster_std=20, random_state=0)
    y = np.where(labels == 1, 1.0, -1.0)
    kwargs = dict(method="batch", loss="hinge", penalty="l2", alpha=1e-4, random_state=0)
    kwargs["sample_weight"] = np.where(labels == 1, 1000.0, 1e-4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plateau = fastgd.fit(X, y, tol=1e-3, **kwargs)
        longer = fastgd.fit(X, y, tol=1e-6, max_epochs=100_000, **kwargs)  # ~40k epochs, ~1 s
    assert plateau.message.startswith("stopped on a plateau") and not plateau.converged
    assert plateau.objective > 1000 * longer.objective


def test_tol_zero_measures_nothing_and_does_not_warn():
    X, y = make_problem(100, 2, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        res = fastgd.fit(X, y, method="sgd", standardize=True, tol=0, max_epochs=3)
    assert not res.converged and res.n_epochs == 3 and res.optimality_measure == "none"


def test_one_warning_with_the_measured_value():
    X, y = make_problem(500, 3, 4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = fastgd.fit(X, y, method="sgd", standardize=True, max_epochs=20, random_state=0)
    mine = [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert len(mine) == 1
    assert not res.converged
    text = str(mine[0].message)
    assert f"{res.optimality:.3g}" in text and "tol=1e-06" in text and "max_epochs" in text


def test_sgd_keeps_going_after_a_plateau_until_the_measure_is_met():
    X, y = make_problem(300, 2, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fastgd.fit(X, y, method="minibatch", standardize=True, tol=1e-3, random_state=0)
    best = optimum(X, y)
    assert res.converged and res.optimality <= 1e-3
    assert excess(res, X, y, best) <= 1e-3 / (1 - 1e-3)


@pytest.mark.parametrize("method", ["sgd", "minibatch"])
def test_a_constant_rate_stops_at_its_noise_floor_and_says_so(method):
    """At a constant rate the iterates hover around the optimum (a noise floor that grows with the
    rate): the fit stops after STALL_CHECKS plateaus without progress, long before max_epochs, with
    converged=False, one ConvergenceWarning naming the rate and the fix, and the measured value."""
    from fastgd.engine import STALL_CHECKS

    X, y = make_problem(5000, 4, 6)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = fastgd.fit(X, y, method=method, standardize=True, learning_rate=0.05, random_state=0)
    mine = [str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert len(mine) == 1 and not res.converged
    assert res.n_epochs < 200  # of max_epochs=1000
    assert res.optimality > 1e-6 and excess(res, X, y, optimum(X, y)) > 1e-6  # the floor is real
    assert f"{res.optimality:.3g}" in mine[0] and "constant learning rate 0.05" in mine[0]
    assert 'learning_rate="auto"' in mine[0] and f"over {STALL_CHECKS} plateaus" in mine[0]


def test_a_decaying_rate_is_never_stopped_for_a_stall():
    """The stall rule is for constant rates only: a slowly decaying schedule runs on to max_epochs
    where the constant rate of the same size stops early."""
    X, y = make_problem(2000, 3, 7)
    fits = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, rate in [("decaying", fastgd.schedules.inverse_scaling(0.05, power_t=0.01)), ("constant", 0.05)]:
            fits[name] = fastgd.fit(
                X, y, method="sgd", standardize=True, learning_rate=rate, max_epochs=60, random_state=0
            )
    assert not fits["decaying"].converged and fits["decaying"].n_epochs == 60
    assert "max_epochs=60" in fits["decaying"].message
    assert not fits["constant"].converged and fits["constant"].n_epochs < 60
    assert "constant learning rate" in fits["constant"].message


@pytest.fixture
def reads():
    """A list that grows by one name at every read of X a fit makes during the test (the statistics,
    alone or with the first pass; each pass; the Gram matrix; the largest row norm): the bench's own
    counter (``fastgd.bench.counted_reads``), so that the two never count differently."""
    from fastgd import bench

    with bench.counted_reads() as names:
        yield names


@pytest.mark.parametrize("standardize", [False, True], ids=["as_is", "standardized"])
@pytest.mark.parametrize("kwargs", [{}, {"tol": 0}, {"penalty": "l2", "alpha": 0.1, "tol": 0}, {"loss": "log"}])
def test_a_streaming_batch_fit_reads_x_once_per_step(standardize, kwargs, reads):
    """precompute=False: K steps read X K + 1 times (the start's pass, one after each step), the
    statistics with the first of them when X is read as is (standardized, the start needs them
    first: K + 2); the last pass's loss and gradient are the final loss and measure (no pass of
    their own); a certificate on the squared loss adds the Gram matrix's read for μ.  The loss
    reported is that of a plain numpy evaluation of the returned θ."""
    X, y = fastgd.make_linear(3000, 8, random_state=4)
    if kwargs.get("loss") == "log":
        y = (y > np.median(y)).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = fastgd.fit(X, y, method="batch", precompute=False, standardize=standardize, learning_rate=0.01,
                         max_epochs=10, random_state=0, **kwargs)  # fmt: skip
    assert res.n_epochs == 10
    gram = kwargs.get("tol", 1e-6) > 0 and "loss" not in kwargs
    first = ["measure", "run_pass"] if standardize else ["measure_with_pass"]
    assert reads == first + ["gram"] * gram + ["run_pass"] * 10
    Xb = np.column_stack([np.ones(len(y)), X])
    if "loss" not in kwargs:
        assert res.loss == pytest.approx(np.mean((Xb @ res.theta - y) ** 2), rel=1e-12)


def test_an_auto_rate_with_a_certificate_takes_its_curvature_from_the_gram_read(reads):
    """learning_rate="auto" and tol > 0 on the squared loss: the Gram matrix read for the certificate's
    μ also gives L, so no power iteration passes precede the first step."""
    X, y = fastgd.make_linear(3000, 8, random_state=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = fastgd.fit(X, y, method="batch", precompute=False, max_epochs=10, random_state=0)
    assert reads[:2] == ["measure_with_pass", "gram"] and set(reads[2:]) == {"run_pass"}
    assert len(reads) == 2 + res.n_epochs


@pytest.mark.parametrize("method", ["sgd", "minibatch"])
@pytest.mark.parametrize("standardize", [False, True], ids=["as_is", "standardized"])
def test_an_sgd_fit_reads_its_statistics_with_the_start_objective(method, standardize, reads):
    """SGD and mini-batch on X as is: the start's objective is the pass that reads the statistics;
    then each epoch reads X in its kernel and once more for the objective at its θ (the losses met
    during the epoch are those of moving iterates)."""
    X, y = fastgd.make_linear(3000, 8, random_state=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = fastgd.fit(X, y, method=method, standardize=standardize, learning_rate=1e-3, max_epochs=3, tol=0,
                         random_state=0)  # fmt: skip
    assert res.n_epochs == 3
    first = ["measure", "run_pass"] if standardize else ["measure_with_pass"]
    assert reads == first + ["run_pass"] * 3


FOLDED = {
    "squared": {"precompute": False},
    "weighted": {"precompute": False, "weighted": True},
    "no_intercept": {"fit_intercept": False},
    "log": {"loss": "log"},
    "softmax": {"loss": "softmax"},
    "l1": {"precompute": False, "penalty": "l1", "alpha": 0.01, "tol": 0},
    "wide": {"precompute": False, "d": 300},  # a block > FOLD_BYTES: the first pass in turns of one block
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [300, 3 * 2048 + 17], ids=["one_block", "blocks"])
@pytest.mark.parametrize(
    ("method", "case"),
    [("batch", case) for case in FOLDED]
    + [(m, c) for m in ("sgd", "minibatch") for c in ("weighted", "log")]
    + [("sgd", "wide")],
)
def test_the_statistics_read_with_the_first_pass_change_no_bit(method, case, dtype, n, monkeypatch):
    """A fit of X as is (streaming batch GD, SGD, mini-batch) reads its statistics with its first
    pass (``engine.folds_statistics``): the same bits as the statistics read first."""
    from fastgd import engine

    kwargs = dict(FOLDED[case])
    X, y = fastgd.make_linear(n, kwargs.pop("d", 5), dtype=dtype, random_state=1)
    if method != "batch":
        kwargs.pop("precompute", None)
    if kwargs.pop("weighted", False):
        kwargs["sample_weight"] = np.random.default_rng(0).uniform(0.5, 2.0, n)
    if kwargs.get("loss") == "log":
        y = (y > np.median(y)).astype(int)
    elif kwargs.get("loss") == "softmax":
        y = np.digitize(y, np.quantile(y, [1 / 3, 2 / 3]))
    fits = []
    for fold in (True, False):
        if not fold:
            monkeypatch.setattr(engine, "folds_statistics", lambda problem, options: False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            fits.append(fastgd.fit(X, y, method=method, max_epochs=7 if method == "batch" else 2, random_state=3,
                                   **kwargs))  # fmt: skip
    folded, apart = fits
    np.testing.assert_array_equal(folded.theta, apart.theta)
    np.testing.assert_array_equal(folded.history, apart.history)
    assert folded.loss == apart.loss
    np.testing.assert_array_equal(folded.optimality, apart.optimality)  # NaN when not measured (tol=0)


def test_a_warning_made_an_error_leaves_the_generator_as_it_was():
    """A fit that raises before its driver starts (here the batch-size warning, made an error, after
    θ0 is drawn) puts a caller's Generator back as it was."""
    X, y = fastgd.make_linear(50, 2, random_state=0)
    rng = np.random.default_rng(3)
    state = rng.bit_generator.state
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        with pytest.raises(UserWarning, match="batch_size=64 exceeds the 50 samples"):
            fastgd.fit(X, y, method="minibatch", batch_size=64, random_state=rng)
    assert rng.bit_generator.state == state


@pytest.mark.parametrize("method", ["batch", "sgd", "minibatch"])
@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_bad_data_found_by_the_first_pass_changes_nothing(method, value):
    """The statistics read with the first pass find a NaN or inf as the statistics pass does: the
    same error, before any step, X unchanged and a caller's Generator where it was."""
    X, y = fastgd.make_linear(3 * 2048 + 17, 4, random_state=2)
    X[5000, 2] = value
    before = X.copy()
    rng = np.random.default_rng(7)
    state = rng.bit_generator.state
    with pytest.raises(ValueError, match=f"X contains {value} at row 5000, column 2"):
        fastgd.fit(X, y, method=method, random_state=rng, **({"precompute": False} if method == "batch" else {}))
    np.testing.assert_array_equal(X, before)
    assert rng.bit_generator.state == state
    X = fastgd.make_linear(200, 2, random_state=2)[0]
    X[:, 1] = 1e200  # its square overflows: check_target_scale's error, from the statistics of the first pass
    with pytest.raises(ValueError, match="X column 1 holds values too large to square"):
        fastgd.fit(X, np.arange(200) % 2, method=method, loss="log", random_state=rng)
    assert rng.bit_generator.state == state
    X = fastgd.make_linear(200, 2, random_state=2)[0] * np.array([1.0, 1000.0])
    with pytest.warns(fastgd.FeatureScaleWarning, match="feature scales differ by"):
        fastgd.fit(X, y[:200], method=method, loss="huber", learning_rate=1e-8, max_epochs=2, tol=0)
