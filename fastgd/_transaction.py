"""A call that raises leaves its object as it was; a Ctrl-C is a KeyboardInterrupt."""

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
