"""Every input check of fastgd and its error message, in one place.

Errors name the argument, the offending value and, where there is one, the fix.  Nothing here
modifies the caller's arrays: a conversion makes a new array, a valid array passes as a view.
"""

import difflib
import functools
import inspect
import math
import numbers
import operator

import numpy as np

METHODS = ("auto", "normal", "svd", "batch", "sgd", "minibatch")
ITERATIVE = ("batch", "sgd", "minibatch")
RECORD_PATH = (False, True, "epoch", "update")
SHUFFLE = (True, False, "rows", "blocks", "corgipile")


#: other libraries' names (scikit-learn's first) for fastgd's keywords: an unknown keyword
#: found here is answered with fastgd's name, where the callee takes it
OTHER_NAMES = {
    "max_iter": "max_epochs",
    "n_iter": "max_epochs",
    "epochs": "max_epochs",
    "n_epochs": "max_epochs",
    "eta0": "learning_rate",
    "eta": "learning_rate",
    "lr": "learning_rate",
    "step_size": "learning_rate",
    "n_jobs": "n_threads",
    "verbose": "progress",
    "seed": "random_state",
    "normalize": "standardize",
    "solver": "method",
    "sample_weights": "sample_weight",
    "weights": "sample_weight",
}


def keyword_hint(name, valid, elsewhere=None):
    """What to say of a keyword not in ``valid``: ``elsewhere``'s word on it if it has one,
    fastgd's name for another library's, else the closest valid name (difflib), else the list."""
    if elsewhere and name in elsewhere:
        return f": {elsewhere[name]}"
    ours = OTHER_NAMES.get(name)
    if ours in valid:
        return f": fastgd calls it {ours!r} (scikit-learn's {name}); pass {ours}= instead"
    if elsewhere and ours in elsewhere:
        return f": fastgd calls it {ours!r} (scikit-learn's {name}), and not here: {elsewhere[ours]}"
    close = difflib.get_close_matches(name, list(valid), n=1, cutoff=0.6) if isinstance(name, str) else []
    if close:
        return f"; did you mean {close[0]!r}?"
    return f"; the keywords are {', '.join(sorted(valid))}"


def unknown_keyword(name, valid, where, elsewhere=None):
    """The TypeError's message for a keyword ``where`` does not take (Python's words, and a hint)."""
    return f"{where} got an unexpected keyword argument {name!r}{keyword_hint(name, valid, elsewhere)}"


def check_keywords(given, valid, where, elsewhere=None):
    """A TypeError (as Python's own) for the first keyword of ``given`` not in ``valid``, with a suggestion."""
    for name in given:
        if name not in valid:
            raise TypeError(unknown_keyword(name, valid, where, elsewhere))


def suggest_keywords(func):
    """``func`` (whose signature names every keyword it takes, no ``**kwargs``), answering an
    unknown keyword with the closest valid one; ``inspect.signature`` still sees ``func``'s own
    signature (scikit-learn reads an estimator's parameters from it)."""
    parameters = inspect.signature(func).parameters
    valid = frozenset(name for name, p in parameters.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
    method = next(iter(parameters), None) == "self"

    @functools.wraps(func)
    def call(*args, **kwargs):
        if not valid.issuperset(kwargs):
            where = f"{type(args[0]).__name__}()" if method and args else f"{func.__name__}()"
            check_keywords(kwargs, valid - {"self"}, where)
        return func(*args, **kwargs)

    return call


def is_sparse(a):
    """Whether ``a`` is a scipy.sparse matrix or array (told without importing scipy.sparse)."""
    return type(a).__module__.startswith("scipy.sparse") and hasattr(a, "tocsr")


def is_dask(a):
    """Whether ``a`` is a Dask collection (told by its type's module: dask is never imported here)."""
    return type(a).__module__.partition(".")[0] in ("dask", "dask_expr")


def seed_from(random_state):
    """``random_state`` as ``fastgd.fit`` takes it: a numpy RandomState instance (scikit-learn's
    convention) gives a seed drawn from it, so successive fits differ as in scikit-learn."""
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    return random_state


def check_n_features(estimator, X, reset):
    """Record (``reset``) or check ``estimator.n_features_in_`` against X's columns, in
    scikit-learn's words: for input ``validate_data`` does not see (Dask collections)."""
    n_features = X.shape[1] if len(X.shape) == 2 else 1
    if reset:
        estimator.n_features_in_ = n_features
    elif n_features != estimator.n_features_in_:
        raise ValueError(
            f"X has {n_features} features, but {type(estimator).__name__} is expecting "
            f"{estimator.n_features_in_} features as input."
        )


def refuse_dask_stream(X, y):
    """partial_fit's check: in-memory chunks only."""
    if is_dask(X) or is_dask(y):
        raise ValueError(
            "partial_fit takes in-memory chunks; for Dask data use fit, which runs on the cluster "
            "(only θ and partial sums travel to the client)"
        )


def classes_of(y):
    """The sorted labels of y, checked as scikit-learn checks classification targets; of a Dask
    y, computed on the cluster (only the labels travel).  Needs scikit-learn (the estimators')."""
    if is_dask(y):
        import dask.array as da

        y = y.to_dask_array(lengths=True) if hasattr(y, "to_dask_array") else y
        return np.asarray(da.unique(y).compute())
    from sklearn.utils.multiclass import check_classification_targets

    with np.errstate(invalid="ignore", over="ignore"):  # scikit-learn casts float labels to int to test them
        check_classification_targets(y)
    return np.unique(y)


def as_numeric_array(a, name):
    """``a`` as an ndarray of a real numeric dtype (float32/float64 kept, others -> float64)."""
    if is_sparse(a) or hasattr(a, "tocsr") or hasattr(a, "toarray"):
        raise TypeError(
            f"{name} is a sparse matrix; this needs a dense array (fastgd.fit and FitResult.predict take "
            "scipy.sparse X)"
        )
    arr = as_array(a, name)
    if arr.dtype.kind == "O":  # numbers held as objects (e.g. a pandas column of dtype object) are numbers
        if arr.size and all(map(_is_number, arr.flat)):
            return arr.astype(np.float64)
        raise TypeError(_not_numbers(a, arr, name))
    dtype = numeric_dtype(arr.dtype, name)
    return arr if arr.dtype == dtype else arr.astype(dtype)


def as_array(a, name):
    """``np.asarray(a)``, with a ragged nested list (rows of different lengths) named as such."""
    try:
        return np.asarray(a)
    except ValueError as exc:
        if "inhomogeneous" not in str(exc):
            raise TypeError(f"{name} could not be read as a numeric array: {exc}") from None
        lengths = sorted({len(row) for row in a if hasattr(row, "__len__")})
        raise TypeError(
            f"{name} could not be read as a numeric array: it is a ragged nested list, its rows have different "
            f"lengths {lengths}; every row needs the same number of features"
        ) from None
    except Exception as exc:
        raise TypeError(f"{name} could not be read as a numeric array: {exc}") from None


def check_label_types(y):
    """TypeError when class labels mix types (strings and numbers): numpy would silently read 1
    as '1'.  Checks lists, tuples and object arrays (numeric and string arrays are of one type)."""
    if isinstance(y, (list, tuple)):
        values = list(y)
    elif getattr(y, "dtype", None) is not None and np.dtype(y.dtype).kind == "O" and hasattr(y, "tolist"):
        values = y.tolist()
    else:
        return
    flat = [v for row in values for v in (row if isinstance(row, (list, tuple)) else [row])]
    kinds = {
        "str"
        if isinstance(v, (str, np.str_))
        else "number"
        if isinstance(v, (numbers.Number, np.number))
        else type(v).__name__
        for v in flat
    }
    if len(kinds) > 1:
        raise TypeError(f"y mixes label types {sorted(kinds)}; use one type for all labels (e.g. all strings)")


def _is_number(value):
    return isinstance(value, (numbers.Real, np.number)) and not isinstance(value, np.complexfloating)


def _not_numbers(a, arr, name):
    """The message for object data that is not all numbers: the column (of a DataFrame) and a
    value that is not a number, named."""
    columns = getattr(a, "columns", None)
    for k in range(arr.shape[1] if arr.ndim == 2 else 0):
        for value in arr[:, k]:
            if not _is_number(value):
                column = f"column {columns[k]!r}" if columns is not None else f"column {k}"
                dtype = f" (dtype {a.dtypes.iloc[k]})" if columns is not None else ""
                return (
                    f"{name} must hold real numbers: {name} {column}{dtype} holds {value!r}; convert the column to "
                    "numbers (missing values: drop or impute them first), got dtype object"
                )
    return f"{name} must hold real numbers, got dtype object (object data)"


def numeric_dtype(dtype, name):
    """The dtype fastgd computes in for data of ``dtype`` (float32/float64 kept, float16 ->
    float32, other real numbers -> float64); TypeError for anything else."""
    kind = dtype.kind
    if kind in "fiub":
        if kind == "f" and dtype.itemsize in (4, 8):
            return dtype.newbyteorder("=")  # float32 stays float32 (in native byte order)
        return np.dtype(np.float32) if kind == "f" and dtype.itemsize == 2 else np.dtype(np.float64)
    what = {"c": "complex", "O": "object", "U": "string", "S": "bytes", "M": "datetime", "m": "timedelta"}
    raise TypeError(f"{name} must hold real numbers, got dtype {dtype} ({what.get(kind, kind)} data)")


def check_X(X, name="X", accept_sparse=False):
    """X as a 2-D C-contiguous float32/float64 array; 1-D X is one feature.  With
    ``accept_sparse`` True, a scipy.sparse X is returned as CSR (see ``check_sparse_X``);
    "any": in its own format (for ``X @ coef``)."""
    if accept_sparse and is_sparse(X):
        return check_sparse_X(X, name, convert=accept_sparse != "any")
    arr = as_numeric_array(X, name)
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features) or 1-D (one feature), got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has 0 samples (shape {arr.shape})")
    if arr.shape[1] == 0:
        raise ValueError(f"{name} is empty: it has 0 features (shape {arr.shape})")
    return np.ascontiguousarray(arr)


def check_sparse_X(X, name="X", convert=True):
    """A scipy.sparse X as a CSR matrix of float32/float64 (kept; float16 -> float32, other
    numbers -> float64), never modifying the caller's matrix: CSR passes as is (indices need
    not be sorted); CSC, COO and the other formats are converted once, with a
    ``SparseConversionWarning`` (a copy of X: pass CSR to avoid it); duplicate entries are
    summed in a copy.  ``convert=False`` (prediction) accepts any format as is.  NaN and inf
    are found later, by ``fastgd.fit``'s one read of X (``report_nonfinite``)."""
    import warnings

    from .exceptions import SparseConversionWarning

    if len(X.shape) != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got shape {X.shape}")
    if X.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has 0 samples (shape {X.shape})")
    if X.shape[1] == 0:
        raise ValueError(f"{name} is empty: it has 0 features (shape {X.shape})")
    dtype = numeric_dtype(X.dtype, name)
    if not convert:
        return X if X.dtype == dtype else X.astype(dtype)
    if X.format != "csr":
        warnings.warn(
            f"{name} is a sparse {X.format.upper()} matrix; fastgd reads CSR and converts it once (a copy of its "
            f"{X.nnz} stored values and their indices); pass X.tocsr() to avoid the copy",
            SparseConversionWarning,
            stacklevel=3,
        )
        X = X.tocsr()
    if X.dtype != dtype:
        X = X.astype(dtype)
    if not X.has_canonical_format:  # sorted indices, no duplicates: sort and sum in a copy only if duplicated
        indptr, indices = X.indptr, X.indices
        row = np.repeat(np.arange(X.shape[0]), np.diff(indptr))
        key = row.astype(np.int64) * X.shape[1] + indices
        if np.unique(key).shape[0] != key.shape[0]:
            X = X.copy()
            X.sum_duplicates()
    return X


def check_y_shape(y, n_samples, name="y"):
    """y of shape (n_samples,) or (n_samples, 1), as (n_samples,): a numpy or a Dask array."""
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"{name} must have shape (n_samples,) or (n_samples, 1), got shape {y.shape}")
    if y.shape[0] != n_samples:
        raise ValueError(f"X has {n_samples} rows but {name} has {y.shape[0]}")
    return y


def check_y(y, n_samples, dtype, name="y"):
    """y as a 1-D C-contiguous array of X's dtype with n_samples entries, finite."""
    arr = check_y_shape(as_numeric_array(y, name), n_samples, name)
    _check_finite(arr, name, "")
    with np.errstate(over="ignore"):  # an overflow is reported below, by value and index
        cast = np.ascontiguousarray(arr, dtype=dtype)
    if cast is not arr:
        _check_finite(cast, name, f" once cast to X's dtype {np.dtype(dtype)} (too large for it)")
    return cast


def _check_finite(values, name, what):
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise ValueError(
            f"{name} contains {values[bad[0]]}{what} at index {bad[0]} ({bad.size} non-finite values in all)"
        )


def report_nonfinite(X, row, name="X"):
    """The error for a non-finite value found in ``row`` of X (dense, or CSR)."""
    if is_sparse(X):
        start, stop = X.indptr[row], X.indptr[row + 1]
        q = start + int(np.flatnonzero(~np.isfinite(X.data[start:stop]))[0])
        col, value = int(X.indices[q]), X.data[q]
    else:
        col = int(np.flatnonzero(~np.isfinite(X[row]))[0])
        value = X[row, col]
    return ValueError(f"{name} contains {value} at row {row}, column {col}; remove or impute it before fitting")


#: the largest integer parameter: the kernels count in int64
INT_MAX = 2**63 - 1


def check_int(name, value, low):
    """An integer parameter, low <= value <= INT_MAX."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {value!r}") from None
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    if value > INT_MAX:
        raise ValueError(f"{name} must be at most 2**63 - 1 (the kernels count in int64), got {value}")
    return value


def check_real(name, value, low, low_open=False):
    """A finite real parameter >= low (> low if low_open)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not np.isfinite(value) or (value <= low if low_open else value < low):
        raise ValueError(f"{name} must be a finite number {'>' if low_open else '>='} {low}, got {value!r}")
    return value


def check_number(name, value, *, low=None, high=None, low_open=False, high_open=False, integer=False):
    """Check one parameter of a schedule or an optimizer; return it as a float (an int with ``integer``)."""
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        raise TypeError(f"{name} must be {'an integer' if integer else 'a real number'}, got {value!r}")
    value = int(value) if integer else float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if low is not None and (value <= low if low_open else value < low):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {value!r}")
    if high is not None and (value >= high if high_open else value > high):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high}, got {value!r}")
    return value


def check_choice(name, value, options):
    if not isinstance(value, (str, bool)) or value not in options:
        raise ValueError(f"unknown {name} {value!r}; choose one of {', '.join(map(repr, options))}")
    return value


def check_bool(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_n_threads(n_threads):
    """None (numba's current setting) or 1 <= n <= NUMBA_NUM_THREADS."""
    import numba

    if n_threads is None:
        return numba.get_num_threads()
    n = check_int("n_threads", n_threads, 1)
    if n > numba.config.NUMBA_NUM_THREADS:
        raise ValueError(
            f"n_threads={n} exceeds the {numba.config.NUMBA_NUM_THREADS} threads numba was started with "
            "(NUMBA_NUM_THREADS)"
        )
    return n


def check_random_state(random_state):
    """A numpy Generator from None, an int, a SeedSequence or a Generator."""
    if isinstance(random_state, np.random.RandomState):
        raise TypeError("random_state must be None, an int, a SeedSequence or a numpy Generator (not RandomState)")
    if isinstance(random_state, (bool, str, bytes, float)):
        raise TypeError(f"random_state must be None, an int, a SeedSequence or a numpy Generator, got {random_state!r}")
    try:
        return np.random.default_rng(random_state)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"random_state: {exc}") from None


def check_init(init, n_features, fit_intercept, n_outputs=1):
    """'random', 'zeros', or an array: [intercept, *coef] (d + 1 values) or coef (d values);
    for softmax's K outputs, (d + 1, K) or (d, K).  Returned as (K, d + 1) float64."""
    if isinstance(init, str):
        return check_choice("init", init, ("random", "zeros"))
    arr = as_numeric_array(init, "init").astype(np.float64)
    if n_outputs == 1:
        arr = arr.ravel()[:, None]
    if arr.ndim != 2 or arr.shape[1] != n_outputs or arr.shape[0] not in (n_features, n_features + 1):
        expected = f"{n_features + 1} ([intercept, *coef]) or {n_features} (coef)"
        if n_outputs > 1:
            expected = f"shape ({n_features + 1}, {n_outputs}) or ({n_features}, {n_outputs})"
        got = f"shape {arr.shape}" if n_outputs > 1 else f"{arr.size} values"
        raise ValueError(f"init has {got}; expected {expected}")
    if arr.shape[0] == n_features:
        arr = np.vstack([np.zeros((1, n_outputs)), arr])
    if not np.isfinite(arr).all():
        raise ValueError("init contains NaN or inf")
    if not fit_intercept and arr[0].any():
        value = float(arr[0, 0]) if n_outputs == 1 else arr[0].tolist()
        raise ValueError(f"init has intercept {value!r} but fit_intercept=False")
    return np.ascontiguousarray(arr.T)


PENALTIES = (None, "l2", "l1", "elasticnet")


def check_epsilon(spec, epsilon):
    """huber's and the epsilon-insensitive losses' ε (default 0.1); an error for other losses."""
    if not spec.has_epsilon:
        if epsilon is not None:
            raise ValueError(
                f"epsilon applies to the losses 'huber', 'epsilon_insensitive' and 'squared_epsilon_insensitive', "
                f"not to loss={spec.name!r}; leave it unset"
            )
        return 0.0
    if epsilon is None:
        return 0.1
    eps = check_real("epsilon", epsilon, 0.0)
    if spec.name == "huber" and eps == 0:
        raise ValueError("epsilon must be > 0 for loss='huber' (at 0 the loss has no quadratic part)")
    return eps


def check_penalty(penalty, alpha, l1_ratio):
    """(l2, l1) of the penalty ``alpha ((1 - l1_ratio)/2 ||w||² + l1_ratio ||w||₁)``."""
    if not (penalty is None or isinstance(penalty, str)) or penalty not in PENALTIES:
        raise ValueError(f"unknown penalty {penalty!r}; choose one of {', '.join(map(repr, PENALTIES))}")
    if penalty is None:
        if alpha is not None:
            raise ValueError(
                f"alpha={alpha!r} has no effect without a penalty; pass penalty='l2', 'l1' or 'elasticnet'"
            )
        if l1_ratio is not None:
            raise ValueError(f"l1_ratio={l1_ratio!r} applies to penalty='elasticnet' only")
        return 0.0, 0.0
    alpha = 1e-4 if alpha is None else check_real("alpha", alpha, 0.0)
    if penalty != "elasticnet" and l1_ratio is not None:
        raise ValueError(f"l1_ratio={l1_ratio!r} applies to penalty='elasticnet' only, not {penalty!r}")
    ratio = {"l2": 0.0, "l1": 1.0}.get(penalty)
    if ratio is None:
        ratio = 0.15 if l1_ratio is None else check_real("l1_ratio", l1_ratio, 0.0)
        if ratio > 1:
            raise ValueError(f"l1_ratio must be between 0 and 1, got {ratio!r}")
    return alpha * (1.0 - ratio), alpha * ratio


def check_average(average):
    """The update count from which iterates are averaged: -1 (False), 0 (True) or an int >= 1."""
    if isinstance(average, (bool, np.bool_)):
        return 0 if average else -1
    return check_int("average", average, 1)


def check_fraction(name, value):
    value = check_real(name, value, 0.0, low_open=True)
    if value >= 1:
        raise ValueError(f"{name} must be between 0 and 1 (exclusive), got {value!r}")
    return value


def check_sample_weight(sample_weight, n_samples):
    """Sample weights as a new float64 array: (n,), finite, >= 0, not all 0."""
    if sample_weight is None:
        return None
    arr = as_numeric_array(sample_weight, "sample_weight")
    if arr.ndim == 0:
        raise ValueError(f"sample_weight must be an array of {n_samples} weights, got the scalar {arr.item()!r}")
    if arr.ndim != 1:
        raise ValueError(f"sample_weight must have shape (n_samples,), got shape {arr.shape}")
    if arr.shape[0] != n_samples:
        raise ValueError(f"X has {n_samples} rows but sample_weight has {arr.shape[0]}")
    _check_finite(arr, "sample_weight", "")
    weights = arr.astype(np.float64)  # a copy: the caller's array is never touched
    negative = np.flatnonzero(weights < 0)
    if negative.size:
        raise ValueError(f"sample_weight must be >= 0, got {float(weights[negative[0]])!r} at index {negative[0]}")
    if not weights.any():
        raise ValueError("sample_weight is 0 for every sample: there is nothing to fit")
    return weights


def encode_labels(y, n_samples, spec, dtype):
    """Class labels -> (y as the kernels read it, in X's dtype; the classes, sorted).

    Two classes: the second (larger) reads +1, the first -1.  Softmax: the class's index."""
    check_label_types(y)
    arr = check_y_shape(as_array(y, "y"), n_samples)
    if arr.dtype.kind in "fc":
        _check_finite(arr, "y", "")
    classes, index = np.unique(arr, return_inverse=True)
    if arr.dtype.kind == "f" and classes.shape[0] > max(20, n_samples // 2):
        raise ValueError(
            f"y has {classes.shape[0]} distinct values in {n_samples} samples: it looks continuous, but "
            f"loss={spec.name!r} is for classification; use a regression loss (e.g. 'squared')"
        )
    if spec.task == "binary":
        if classes.shape[0] != 2:
            hint = " Use loss='softmax' for more than two classes." if classes.shape[0] > 2 else ""
            raise ValueError(
                f"loss={spec.name!r} needs exactly two classes in y, got {classes.shape[0]}: {_show(classes)}.{hint}"
            )
        encoded = np.where(index == 1, 1.0, -1.0)
    else:
        if classes.shape[0] < 2:
            raise ValueError(
                f"loss='softmax' needs at least two classes in y, got {classes.shape[0]}: {_show(classes)}"
            )
        encoded = index.astype(np.float64)
    return np.ascontiguousarray(encoded, dtype=dtype), classes


def _show(values, limit=6):
    shown = ", ".join(map(repr, values[:limit].tolist()))
    return f"[{shown}{', ...' if len(values) > limit else ''}]"
