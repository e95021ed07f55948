"""Another profile's published report (`reports/<profile>/`, written by `python -m tools.profiles <profile>`), read
back so that this run's report can set its results beside its own: the paper profile's verdicts (agreement table) and
the real profile's cells on real recordings (the "What to do" table)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_origin, get_type_hints

import pandas as pd
import yaml

from stages.core.params import Params, parse_params


@dataclass(frozen=True)
class Published:
    name: str
    params: Params  # the parameters that run used (its params.yaml)
    raw_params: dict  # the same, as YAML gave them
    findings: pd.DataFrame  # tables/findings.csv: key, title, verdict, estimate, low, high, ...
    summary: pd.DataFrame  # tables/summary.csv: cell, metric, mean, low, high
    replicates: pd.DataFrame  # tables/replicates.csv: one row per cell and seed


# Keys that published profiles' params.yaml may hold but this version no longer reads: dropped before parsing, each
# with why, so that a profile published before the change is still read (its README says what changed since).
RETIRED_KEYS = {
    ("train", "threads"): "a speed knob, not a parameter since outputs are byte-identical at 1 and 2 threads",
    ("report", "chance_margin"): "margins are declared per finding in the analysis plan (stages/reporting/plan.yaml)",
}


# Columns (and summary metrics) renamed since a profile may have been published: old name -> this version's.
RENAMED_COLUMNS = {"update_chunk_accuracy": "update_pass_chunk_accuracy",
                   "frozen_chunk_accuracy": "frozen_pass_chunk_accuracy"}


def current_table(table: pd.DataFrame) -> pd.DataFrame:
    """A published table as this version names its columns and metrics."""
    table = table.rename(columns=RENAMED_COLUMNS)
    if "metric" in table:
        table = table.assign(metric=table["metric"].replace(RENAMED_COLUMNS))
    return table


# Sections and keys added since a profile may have been published, with the values it ran with in effect (a family
# not run; no comparison that did not exist).
ADDED_SECTIONS = {
    "chunks": {"bptt_size": [], "reference_bptt": 10, "data_type": "SameRandom", "initial_state_type": "Random"},
}
ADDED_KEYS = {("report", "confirmation"): False}


def current_params(raw: dict) -> dict:
    """A published params.yaml as this version's parser reads it: the retired keys removed, the sections added since
    filled in as not run."""
    raw = {section: dict(values) if isinstance(values, dict) else values for section, values in raw.items()}
    for section, key in RETIRED_KEYS:
        if isinstance(raw.get(section), dict):
            raw[section].pop(key, None)
    for section, values in ADDED_SECTIONS.items():
        raw.setdefault(section, dict(values))
    for (section, key), value in ADDED_KEYS.items():
        if isinstance(raw.get(section), dict):
            raw[section].setdefault(key, value)
    return raw


def read_published(folder: Path, name: str) -> Published | None:
    """The profile's results in `folder`, or None where it has not been published (no findings table yet)."""
    tables = folder / "tables"
    if not (tables / "findings.csv").is_file():
        return None
    for needed in (folder / "params.yaml", tables / "summary.csv", tables / "replicates.csv"):
        if not needed.is_file():
            raise FileNotFoundError(f"{needed}: missing beside {tables / 'findings.csv'} (a profile publishes both)")
    raw, params = published_params(folder)
    return Published(name, params, raw,
                     pd.read_csv(tables / "findings.csv"), current_table(pd.read_csv(tables / "summary.csv")),
                     current_table(pd.read_csv(tables / "replicates.csv")))


def published_params(folder: Path) -> tuple[dict, Params]:
    """A published profile's parameters (its params.yaml, read with this version's keys), as YAML gave them and
    parsed."""
    raw = current_params(yaml.safe_load((folder / "params.yaml").read_text()))
    return raw, parse_params(raw, str(folder / "params.yaml"))


# Parameters whose value is itself a mapping (probe.grid, probe.real: cell -> data): a single setting, replaced whole
# by a profile and compared whole, never walked into. Read from the types of `Params`, so a new one needs no edit here.
MAPPING_PARAMS = frozenset(
    f"{section.name}.{name}" for section in dataclasses.fields(Params)
    for name, hint in get_type_hints(get_type_hints(Params)[section.name]).items() if get_origin(hint) is dict
)


def flatten(tree: dict, prefix: str = "") -> dict[str, Any]:
    """A parameter tree (params.yaml as loaded, or `dataclasses.asdict` of `Params`) as dotted keys -> values, lists
    for sequences."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value and dotted not in MAPPING_PARAMS:
            flat.update(flatten(value, f"{dotted}."))
        else:
            flat[dotted] = list(value) if isinstance(value, tuple) else value
    return flat


# What trains and scores a real-data cell, apart from its protocol and initial states: where two runs agree on all
# of it, a cell one of them ran is the cell the other would have run. `sequences_per_update` is left out on purpose:
# it is how a profile gives per_sequence more steps, and the tables print every cell's steps per epoch.
_REAL_CELL_SETTINGS = ("model", "train", "evaluate", "replicates.count", "realdata.bptt_size")
_IGNORED = ("train.log_every", "train.device", "train.sequences_per_update")


# What every cell shares, whatever its family: the settings under which the supplement's cells are the ones this run
# would have trained.
_SHARED_CELL_SETTINGS = ("data", "model", "train", "evaluate", "replicates.count")


def settings_differ(here: Params, there: Params, settings: tuple[str, ...] = _SHARED_CELL_SETTINGS) -> list[str]:
    """The dotted keys under `settings` (sections or keys) whose values differ between two runs' parameters."""
    mine, theirs = flatten(dataclasses.asdict(here)), flatten(dataclasses.asdict(there))
    return [key for wanted in settings for key in mine
            if (key == wanted or key.startswith(f"{wanted}.")) and key not in _IGNORED and mine[key] != theirs[key]]


def real_settings_differ(here: Params, there: Params) -> list[str]:
    """The settings (dotted keys) that make a real-data cell of `there` differ from the same cell of `here`."""
    return settings_differ(here, there, _REAL_CELL_SETTINGS)
