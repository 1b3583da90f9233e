"""scikit-learn's own SGD tests, run on fastgd's SGDRegressor and SGDClassifier.

The installed ``sklearn/linear_model/tests/test_sgd.py`` is loaded as it ships (never copied
into this repository) with ``sklearn.linear_model.SGDRegressor``/``SGDClassifier`` replaced by
fastgd's while its module body runs (its sparse variants subclass them there) and, for its
tests, a ``linear_model`` namespace whose two classes are fastgd's.  Its test functions are
collected here under their own names.  Left out, as the issue that asked for this module
says: the one-class SVM's and the passive-aggressive rates' tests (fastgd has neither).

``KNOWN_FAILURES`` lists the tests no independent implementation can pass, each with the
reason (README, "Coming from scikit-learn"); they run as strict xfails, so a change that lets
one pass (or a scikit-learn release that changes it) is reported.
"""

import importlib.util
import sys
import types
from pathlib import Path

import pytest

sklearn = pytest.importorskip("sklearn")
linear_model = pytest.importorskip("sklearn.linear_model")

from conftest import SKLEARN_LEFT_OUT  # noqa: E402

import fastgd  # noqa: E402

SUITE = Path(sklearn.__file__).parent / "linear_model" / "tests" / "test_sgd.py"

LEFT_OUT = SKLEARN_LEFT_OUT  # the tests of estimators fastgd does not have (their cases too: conftest)

#: test name -> why fastgd cannot pass it
KNOWN_FAILURES = {
    "test_validation_mask_correctly_subsets": (
        "mocks scikit-learn's private _stochastic_gradient._ValidationScoreCallback, which fastgd never calls"
    ),
    "test_multi_thread_multi_class_and_early_stopping": (
        "its score depends on the epoch early stopping ends at, and scikit-learn scores its unscaled weight "
        "vector v during early stopping (the weights are wscale * v); fastgd scores the weights (107 epochs, "
        "score 0.63, against 109 and 0.86; scoring v as scikit-learn does gives its 109 and 0.86)"
    ),
}


def _load():
    replaced = {"SGDRegressor": fastgd.SGDRegressor, "SGDClassifier": fastgd.SGDClassifier}
    saved = {name: getattr(linear_model, name) for name in replaced}
    spec = importlib.util.spec_from_file_location("sklearn_test_sgd_on_fastgd", SUITE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its classes pickle (test_sgd_l1 pickles a fitted estimator)
    try:
        for name, cls in replaced.items():
            setattr(linear_model, name, cls)
        spec.loader.exec_module(module)
    finally:
        for name, cls in saved.items():
            setattr(linear_model, name, cls)
    namespace = types.SimpleNamespace(
        **{k: getattr(linear_model, k) for k in dir(linear_model) if not k.startswith("__")}
    )
    vars(namespace).update(replaced)
    module.linear_model = namespace
    return module


if not SUITE.exists():  # scikit-learn installed without its tests
    pytest.skip(f"scikit-learn's test_sgd.py is not installed ({SUITE})", allow_module_level=True)

_suite = _load()

for _name, _test in vars(_suite).items():
    if not _name.startswith("test_") or not callable(_test) or any(key in _name for key in LEFT_OUT):
        continue
    if _name in KNOWN_FAILURES:
        _test = pytest.mark.xfail(reason=KNOWN_FAILURES[_name], strict=True)(_test)
    globals()[_name] = _test
del _name, _test
