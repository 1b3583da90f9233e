"""The options of ``fastgd bench``, argparse only: the ``fastgd`` command builds its parser
without importing a row (``fastgd.cli`` imports ``bench.runner`` when ``fastgd bench`` runs)."""

import argparse
import shlex
import sys

#: the rows, in the order they run: the keys of ``fastgd.bench.BENCHES``
ROWS = (
    "gradient",
    "float32",
    "threads",
    "sgd",
    "sgd_dropin",
    "minibatch",
    "streaming",
    "lstsq",
    "startup",
    "memory",
    "memmap",
    "scaling",
    "levers",
    "vw",
    "torch",
)
#: the keys of ``fastgd.bench.PRESETS``
PRESET_NAMES = ("full", "quick", "tiny")


def add_arguments(parser):
    parser.add_argument("--quick", action="store_true", help="smaller data: the whole run in under a minute")
    parser.add_argument(
        "--json", metavar="PATH", help="write the figures (a JSON report) to PATH; without it nothing is written"
    )
    parser.add_argument(
        "--only", nargs="+", choices=list(ROWS), metavar="NAME", help=f"run only these rows: {', '.join(ROWS)}"
    )
    parser.add_argument(
        "--dask",
        action="store_true",
        help="fastgd on Dask beside dask-ml, on a LocalCluster of this machine (pip install 'fastgd[bench]')",
    )
    parser.add_argument("--preset", choices=list(PRESET_NAMES), default=None, help=argparse.SUPPRESS)


def parser():
    """The parser of ``fastgd bench`` alone (``python -m fastgd.bench``, ``fastgd.bench.main([...])``)."""
    p = argparse.ArgumentParser(prog="fastgd bench", description=sys.modules[__package__].__doc__.split("\n\n")[0])
    add_arguments(p)
    return p


def command_line(args):
    """The ``fastgd bench`` command line of the parsed ``args`` (recorded in the JSON report)."""
    words = ["fastgd", "bench"]
    if getattr(args, "dask", False):
        words.append("--dask")
    if getattr(args, "preset", None):
        words += ["--preset", args.preset]
    elif getattr(args, "quick", False):
        words.append("--quick")
    if getattr(args, "only", None):
        words += ["--only", *args.only]
    if getattr(args, "json", None):
        words += ["--json", args.json]
    return shlex.join(words)
