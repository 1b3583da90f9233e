"""A call that raises leaves its object as it was."""

from contextlib import contextmanager


@contextmanager
def unchanged_on_error(obj, arrays=()):
    """Run the block; if it raises (a KeyboardInterrupt too), put ``obj`` back as it was before:
    its attributes (rebound, added or deleted ones), the contents of the lists among them, and,
    in place, the contents of ``arrays`` (those the object shares with others, e.g. θ with an
    epoch runner)."""
    saved = dict(vars(obj))
    lists = {name: list(value) for name, value in saved.items() if isinstance(value, list)}
    copies = [(a, a.copy()) for a in arrays if a is not None]
    try:
        yield
    except BaseException:
        vars(obj).clear()
        vars(obj).update(saved)
        for name, items in lists.items():
            saved[name][:] = items
        for a, copy in copies:
            a[...] = copy
        raise
