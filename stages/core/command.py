"""The shape every stage's command shares: read its arguments and `params.yaml`, check everything it needs, then work.

A command passes three things to `run`: the arguments it adds, a `prepare` step that validates and loads its inputs,
and a `work` step. A `ParamsError` (a bad parameter, named), any other `ValueError` (an input that cannot be used,
named) or a `FileNotFoundError` (a missing input, named) raised before `work` starts is printed as one line and the
command exits with 2, before any output is written; errors inside `work` are bugs and propagate with their
traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from stages.core.files import Layout
from stages.core.params import Params, load_params

Job = TypeVar("Job")


def run(description: str, arguments: Callable[[argparse.ArgumentParser], None],
        prepare: Callable[[argparse.Namespace, Params], Job], work: Callable[[Job], None],
        argv: Sequence[str] | None = None) -> int:
    """Parse `argv` (with `--params`), load the parameters, `prepare` the job, then `work` on it; 2 on bad input."""
    parser = argparse.ArgumentParser(description=description.split("\n\n")[0])
    parser.add_argument("--params", default="params.yaml", help="the study's parameters (default: params.yaml)")
    arguments(parser)
    args = parser.parse_args(argv)
    try:
        job = prepare(args, load_params(args.params))
    except (ValueError, FileNotFoundError) as error:  # ParamsError is a ValueError
        print(f"error: {error}", file=sys.stderr)
        return 2
    work(job)
    return 0


def cell_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of a stage that works on one cell: its name, and the root of the pipeline's data folders."""
    parser.add_argument("--cell", required=True, help="family/key, e.g. grid/SameRandom-Random-10")
    parser.add_argument("--root", type=Path, default=Layout.root,
                        help="the folder holding sequences/, train/, evaluate/, ... (default: data)")
