"""Every input check of fastgd and its error message, in one place.

Errors name the argument, the offending value and, where there is one, the fix.  Nothing here
modifies the caller's arrays: a conversion makes a new array, a valid array passes as a view.
"""

import numbers
import operator

import numpy as np

METHODS = ("auto", "normal", "svd", "batch", "sgd", "minibatch")
ITERATIVE = ("batch", "sgd", "minibatch")
RECORD_PATH = (False, True, "epoch", "update")
SHUFFLE = (True, False, "rows", "blocks")


def _as_numeric_array(a, name):
    """``a`` as an ndarray of a real numeric dtype (float32/float64 kept, others -> float64)."""
    if hasattr(a, "tocsr") or hasattr(a, "toarray"):
        raise TypeError(f"{name} is a sparse matrix; fastgd needs a dense array (sparse support is planned)")
    try:
        arr = np.asarray(a)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{name} could not be read as a numeric array: {exc}") from None
    dtype = numeric_dtype(arr.dtype, name)
    return arr if arr.dtype == dtype else arr.astype(dtype)


def numeric_dtype(dtype, name):
    """The dtype fastgd computes in for data of ``dtype`` (float32/float64 kept, float16 ->
    float32, other real numbers -> float64); TypeError for anything else."""
    kind = dtype.kind
    if kind in "fiub":
        if dtype in (np.float32, np.float64):
            return dtype
        return np.dtype(np.float32) if dtype == np.float16 else np.dtype(np.float64)
    what = {"c": "complex", "O": "object", "U": "string", "S": "bytes", "M": "datetime", "m": "timedelta"}
    raise TypeError(f"{name} must hold real numbers, got dtype {dtype} ({what.get(kind, kind)} data)")


def check_X(X, name="X"):
    """X as a 2-D C-contiguous float32/float64 array; 1-D X is one feature."""
    arr = _as_numeric_array(X, name)
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features) or 1-D (one feature), got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has 0 samples (shape {arr.shape})")
    if arr.shape[1] == 0:
        raise ValueError(f"{name} is empty: it has 0 features (shape {arr.shape})")
    return np.ascontiguousarray(arr)


def check_y(y, n_samples, dtype, name="y"):
    """y as a 1-D C-contiguous array of X's dtype with n_samples entries, finite."""
    arr = _as_numeric_array(y, name)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"{name} must have shape (n_samples,) or (n_samples, 1), got shape {arr.shape}")
    if arr.shape[0] != n_samples:
        raise ValueError(f"X has {n_samples} rows but {name} has {arr.shape[0]}")
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
    """The error for a non-finite value found in ``row`` of X."""
    col = int(np.flatnonzero(~np.isfinite(X[row]))[0])
    return ValueError(f"{name} contains {X[row, col]} at row {row}, column {col}; remove or impute it before fitting")


def check_int(name, value, low):
    """An integer parameter >= low."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {value!r}") from None
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    return value


def check_real(name, value, low, low_open=False):
    """A finite real parameter >= low (> low if low_open)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not np.isfinite(value) or (value <= low if low_open else value < low):
        raise ValueError(f"{name} must be a finite number {'>' if low_open else '>='} {low}, got {value!r}")
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
    if isinstance(random_state, bool):
        raise TypeError(f"random_state must be None, an int, a SeedSequence or a numpy Generator, got {random_state!r}")
    try:
        return np.random.default_rng(random_state)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"random_state: {exc}") from None


def check_init(init, n_features, fit_intercept):
    """'random', 'zeros', or an array of d + 1 values [intercept, *coef] (or d: coef only)."""
    if isinstance(init, str):
        return check_choice("init", init, ("random", "zeros"))
    arr = _as_numeric_array(init, "init").astype(np.float64).ravel()
    if arr.shape[0] == n_features:
        arr = np.concatenate(([0.0], arr))
    if arr.shape[0] != n_features + 1:
        raise ValueError(
            f"init has {arr.shape[0]} values; expected {n_features + 1} ([intercept, *coef]) or {n_features} (coef)"
        )
    if not np.isfinite(arr).all():
        raise ValueError("init contains NaN or inf")
    if not fit_intercept and arr[0] != 0:
        raise ValueError(f"init has intercept {float(arr[0])!r} but fit_intercept=False")
    return arr
