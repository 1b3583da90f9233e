"""A call that raises leaves its object as it was; a Ctrl-C is a KeyboardInterrupt, soon."""

import contextvars
import functools
import threading
from contextlib import contextmanager


@contextmanager
def plain_interrupt():
    """Run the block; a KeyboardInterrupt that numba reports as a ``SystemError`` is raised as the
    KeyboardInterrupt.  numba (0.68) boxes an array a kernel returns (``kernels.shuffle``'s order)
    through a Python function (``_numba_unpickle``, the dtype); a signal that arrives just then
    raises in that function, and the dispatcher, which does not look, returns the array with the
    exception set: ``SystemError: CPUDispatcher(...) returned a result with an exception set``,
    the KeyboardInterrupt its ``__cause__``."""
    try:
        yield
    except SystemError as error:
        if isinstance(error.__cause__, KeyboardInterrupt) or isinstance(error.__context__, KeyboardInterrupt):
            raise KeyboardInterrupt from None
        raise


@contextmanager
def unchanged_on_error(obj, arrays=()):
    """Run the block; if it raises (a KeyboardInterrupt too), put ``obj`` back as it was before:
    its attributes (rebound, added or deleted ones), the contents of the lists among them, and,
    in place, the contents of ``arrays`` (those the object shares with others, e.g. θ with an
    epoch runner).  A KeyboardInterrupt comes out as one (``plain_interrupt``)."""
    saved = dict(vars(obj))
    lists = {name: list(value) for name, value in saved.items() if isinstance(value, list)}
    copies = [(a, a.copy()) for a in arrays if a is not None]
    try:
        with plain_interrupt():
            yield
    except BaseException:
        vars(obj).clear()
        vars(obj).update(saved)
        for name, items in lists.items():
            saved[name][:] = items
        for a, copy in copies:
            a[...] = copy
        raise


def interruptible(fn, *args):
    """``fn(*args)`` run in a worker thread while the main thread waits in short joins, so that a
    Ctrl-C raises its KeyboardInterrupt at once even while ``fn`` sits in one long call that
    Python cannot interrupt (LAPACK: numpy and scipy release the GIL there).  The worker is then
    left to finish on its own and its result is dropped: ``fn`` must write only to objects of its
    own.  It runs in a copy of the caller's context (numpy's errstate, warnings filters are
    global); whatever it raises is raised here.  Outside the main thread, which alone receives
    signals, ``fn`` simply runs."""
    if threading.current_thread() is not threading.main_thread():
        return fn(*args)
    outcome = {}

    def work():
        try:
            outcome["value"] = fn(*args)
        except BaseException as error:  # handed to the caller, whatever it is
            outcome["error"] = error

    context = contextvars.copy_context()
    worker = threading.Thread(target=context.run, args=(work,), name="fastgd-closed-form", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(0.05)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def transactional(method):
    """Decorate ``method``: the object is left as it was when the method raises (``unchanged_on_error``)."""

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        with unchanged_on_error(self):
            return method(self, *args, **kwargs)

    return call
