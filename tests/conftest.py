import numpy as np
import pytest

import fastgd

DTYPES = (np.float64, np.float32)
METHODS = ("normal", "svd", "batch", "sgd", "minibatch")
ITERATIVE = ("batch", "sgd", "minibatch")


def lstsq(X, y, fit_intercept=True):
    """numpy's least-squares optimum: (theta = [intercept, *coef], training MSE), in float64."""
    X = np.asarray(X, dtype=np.float64).reshape(len(y), -1)
    y = np.asarray(y, dtype=np.float64).ravel()
    X_b = np.column_stack((np.ones(len(X)), X)) if fit_intercept else X
    theta = np.linalg.lstsq(X_b, y, rcond=None)[0]
    loss = float(np.mean((X_b @ theta - y) ** 2))
    return (theta if fit_intercept else np.concatenate(([0.0], theta))), loss


@pytest.fixture
def demo():
    """The textbook data: m=100, X = 2 U(0,1), y = 4 + 3x + N(0,1), seed 42."""
    return fastgd.make_linear(100, 1, random_state=42)


@pytest.fixture
def multi():
    """A well-conditioned problem with 5 features and an intercept."""
    rng = np.random.default_rng(7)
    X = rng.standard_normal((400, 5))
    y = 1.5 + X @ np.array([2.0, -1.0, 0.5, 0.0, 3.0]) + 0.3 * rng.standard_normal(400)
    return X, y


def interrupt_after_next_run(monkeypatch):
    """The next epoch-runner call runs (changing θ, the state and the average in place) and then
    raises KeyboardInterrupt, as a Ctrl-C landing just after the kernel returned; later calls run."""
    from fastgd import runner

    real = runner.EpochRunner.run_coded

    def interrupted(self, *args, **kwargs):
        real(self, *args, **kwargs)
        monkeypatch.setattr(runner.EpochRunner, "run_coded", real)
        raise KeyboardInterrupt

    monkeypatch.setattr(runner.EpochRunner, "run_coded", interrupted)


#: the fuzz counts the xdist workers handed back (``pytest_testnodedown``)
_WORKER_FUZZ_INPUTS = []


def _fuzz_inputs():
    """tests/test_fuzz.py's count of generated inputs in this process (0 when it did not run here)."""
    import sys

    fuzz = sys.modules.get("test_fuzz")
    return fuzz.INPUTS["n"] if fuzz is not None else 0


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session):
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: its count goes to the controller
        workeroutput["fuzz_inputs"] = _fuzz_inputs()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    _WORKER_FUZZ_INPUTS.append(getattr(node, "workeroutput", {}).get("fuzz_inputs", 0))


def pytest_terminal_summary(terminalreporter):
    """tests/test_fuzz.py's count of generated inputs, when it ran (summed over xdist's workers)."""
    total = _fuzz_inputs() + sum(_WORKER_FUZZ_INPUTS)
    if total:
        terminalreporter.write_line(f"fuzz inputs: {total}")


# scikit-learn's own SGD tests (tests/test_sklearn_sgd_suite.py) use its conftest's marker and
# fixture; their one-class SVM cases, parametrized among the others, are not fastgd's to run
SKLEARN_SUITE = "test_sklearn_sgd_suite.py"
#: the parts of a test id of the suite's that name the one-class SVM or the passive-aggressive rates
SKLEARN_LEFT_OUT = ("oneclass", "ocsvm", "one_class", "PA_", "OneClass")


def pytest_configure(config):
    config.addinivalue_line("markers", "no_check_spmatrix: scikit-learn's marker (its test_sgd.py uses it)")


@pytest.fixture
def global_random_seed():
    """scikit-learn's fixture, at its default seed."""
    return 42


def pytest_collection_modifyitems(config, items):
    kept, dropped = [], []
    for item in items:
        left_out = SKLEARN_SUITE in item.nodeid and any(key in item.nodeid for key in SKLEARN_LEFT_OUT)
        (dropped if left_out else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
