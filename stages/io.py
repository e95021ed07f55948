"""Output helpers: every file or folder a stage writes appears whole or not at all.

A stage killed mid-way must leave nothing that DVC (or a reader) could take for a finished result, so each output is
written under a temporary name beside its final place and renamed into place only once it is complete. Tables and
JSON are written with a fixed key order and float format so that rerunning a stage gives byte-identical files.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # a fifth of a second to import, paid by every stage that imports this module: types only
    import pandas as pd


@contextlib.contextmanager
def atomic_path(path: str | Path, *, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces `path`, on failure it is removed."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    if directory:
        temporary = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent))
    else:
        handle, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent)
        os.close(handle)
        temporary = Path(name)
    try:
        yield temporary
        # mkstemp/mkdtemp create private (0600/0700) entries; give the output the usual permissions.
        umask = os.umask(0)
        os.umask(umask)
        temporary.chmod((0o777 if directory else 0o666) & ~umask)
        if final.is_dir() and not final.is_symlink():
            shutil.rmtree(final)
        elif final.exists() or final.is_symlink():
            final.unlink()
        os.replace(temporary, final)
    except BaseException:
        if temporary.is_dir():
            shutil.rmtree(temporary, ignore_errors=True)
        else:
            temporary.unlink(missing_ok=True)
        raise


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(text)


def rounded(payload: Any, digits: int = 6) -> Any:
    """Floats to `digits` significant digits, as in the CSV tables: thread scheduling moves the last bits of a sum,
    and a metrics file should not change (and churn dvc.lock) over a difference of 1e-9."""
    if isinstance(payload, float):
        return float(f"{payload:.{digits}g}")
    if isinstance(payload, dict):
        return {key: rounded(value, digits) for key, value in payload.items()}
    if isinstance(payload, (list, tuple)):
        return [rounded(value, digits) for value in payload]
    return payload


def write_json(path: str | Path, payload: Any) -> None:
    write_text(path, json.dumps(rounded(payload), indent=2, sort_keys=True) + "\n")


def write_table(path: str | Path, table: pd.DataFrame) -> None:
    with atomic_path(path) as temporary:
        table.to_csv(temporary, index=False, float_format="%.6g", lineterminator="\n")


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())


def require_file(path: str | Path, what: str) -> Path:
    """Fail early, naming the missing input, instead of deep inside a stage."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{what} not found: {path} (run the stage that produces it first: dvc repro)")
    return path
