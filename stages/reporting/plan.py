"""The analysis plan (plan.yaml beside this module): every finding the report decides, read and checked before any
number is looked at, and expanded for one run's parameters.

A bad plan stops the report stage before anything is written, with a message naming the finding and the key: an
unknown test, family, correction, quantity or precondition, a margin outside its range (a share between 0 and 1 of
the quantity's scale), a cell name with an unknown placeholder.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from stages.core.params import FAMILY, Params, ParamsError, probe_cells
from stages.reporting.stats import CORRECTIONS, TESTS

PLAN = Path(__file__).with_name("plan.yaml")


@dataclass(frozen=True)
class Quantity:
    """A per-seed quantity a finding can test: what it is in words, its scale, and how many cells it reads."""

    words: str
    scale: str  # "accuracy": a share of 1 - 1/C is the margin; "loss": a share of ln C nats
    cells: int


QUANTITIES = {
    "accuracy_gap": Quantity("update-pass minus frozen-pass accuracy, last epoch", "accuracy", 1),
    "replay_recovery": Quantity("frozen accuracy from the replayed minus from fresh initial states", "accuracy", 1),
    "loss_gap_last_epochs": Quantity("frozen-pass minus update-pass loss, mean over the last 3 epochs", "loss", 1),
    "heldout_above_chance": Quantity("held-out accuracy minus chance", "accuracy", 1),
    "stale_state_part": Quantity("update-pass minus own-state accuracy at the last chunk", "accuracy", 1),
    "gap_difference": Quantity("accuracy gap of the first arm minus the second's, paired by seed", "accuracy", 2),
    "heldout_difference": Quantity("held-out accuracy of the first arm minus the second's, paired by seed",
                                   "accuracy", 2),
}
PRECONDITIONS = {
    "fitted": "its update pass classifies above chance",
    "learns": "it classifies held-out sequences above chance",
    "gap": "its accuracy gap exceeds the margin",
}
CLAIM_LENGTH = 100
_FIELDS = {"claim", "family", "quantity", "cells", "arms", "held_equal", "test", "margin", "pre", "for_each"}
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Declared:
    """One finding as the plan declares it, expanded for this run (its cell names filled in)."""

    key: str
    claim: str
    family: str
    quantity: str
    cells: tuple[str, ...]
    arms: str
    held_equal: str
    test: str
    margin: float  # a share of the quantity's scale
    preconditions: tuple[tuple[str, str], ...]  # (kind, cell)
    repeated: bool = False  # an expansion of a `for_each`: dropped where its cells are not in the run

    @property
    def primary(self) -> bool:
        return self.family == "primary"

    def margin_on(self, classes: int) -> float:
        """The margin on the quantity's own scale, for data with this many classes."""
        import math

        scale = QUANTITIES[self.quantity].scale
        return self.margin * (1 - 1 / classes) if scale == "accuracy" else self.margin * math.log(classes)


@dataclass(frozen=True)
class Plan:
    families: dict[str, str]  # family -> correction
    findings: tuple[dict, ...]  # the entries as written, each with its key


def _problem(key: str, field: str, message: str) -> ParamsError:
    return ParamsError(f"{PLAN.name}: finding {key!r}, {field}: {message}")


def check_entry(key: str, entry: dict, families: dict[str, str]) -> None:
    """Everything about one finding that can be checked without a run; raises naming the finding and the key."""
    if not isinstance(entry, dict):
        raise _problem(key, "(entry)", "expected a mapping of keys")
    unknown = sorted(set(entry) - _FIELDS)
    if unknown:
        raise _problem(key, unknown[0], f"unknown key (known: {', '.join(sorted(_FIELDS))})")
    for field in _FIELDS - {"for_each"}:
        if field not in entry:
            raise _problem(key, field, "missing")
    if entry["test"] not in TESTS:
        raise _problem(key, "test", f"{entry['test']!r} is not one of {', '.join(TESTS)}")
    if entry["family"] not in families:
        raise _problem(key, "family", f"{entry['family']!r} is not one of {', '.join(families)}")
    if entry["quantity"] not in QUANTITIES:
        raise _problem(key, "quantity", f"{entry['quantity']!r} is not one of {', '.join(QUANTITIES)}")
    margin = entry["margin"]
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not 0 < margin < 1:
        raise _problem(key, "margin", f"{margin!r} is outside its range: a share of the quantity's scale, between "
                                      "0 and 1")
    cells = entry["cells"]
    if not isinstance(cells, list) or len(cells) != QUANTITIES[entry["quantity"]].cells:
        raise _problem(key, "cells", f"{entry['quantity']} reads {QUANTITIES[entry['quantity']].cells} cell(s), "
                                     f"got {cells!r}")
    if not isinstance(entry["claim"], str) or len(entry["claim"]) > CLAIM_LENGTH:
        raise _problem(key, "claim", f"one plain sentence of at most {CLAIM_LENGTH} characters (the report's tables "
                                     f"print it whole), got {len(str(entry['claim']))}")
    for cell in cells:
        if not cell.startswith("{") and cell.split("/")[0] not in FAMILY:
            raise _problem(key, "cells", f"{cell!r} names no family of the study ({', '.join(FAMILY)})")
    if not isinstance(entry["pre"], list):
        raise _problem(key, "pre", f"expected a list, got {entry['pre']!r}")
    for condition in entry["pre"]:
        kind, _, cell = str(condition).partition(" ")
        if kind not in PRECONDITIONS or not cell:
            raise _problem(key, "pre", f"{condition!r}: expected '<kind> <cell>', kind one of "
                                       f"{', '.join(PRECONDITIONS)}")


def load_plan(path: Path = PLAN) -> Plan:
    """The plan, checked: every family's correction, every finding's fields."""
    raw = yaml.safe_load(path.read_text())
    families = raw.get("families") if isinstance(raw, dict) else None
    if not isinstance(families, dict) or not families:
        raise ParamsError(f"{path.name}: families: expected a mapping of family names to corrections")
    for family, correction in families.items():
        if correction not in CORRECTIONS:
            raise ParamsError(f"{path.name}: families.{family}: {correction!r} is not one of {', '.join(CORRECTIONS)}")
    findings = raw.get("findings")
    if not isinstance(findings, dict) or not findings:
        raise ParamsError(f"{path.name}: findings: expected a mapping of finding keys to their declarations")
    for key, entry in findings.items():
        check_entry(key, entry, families)
    return Plan(dict(families), tuple({"key": key, **entry} for key, entry in findings.items()))


def plan_margin(key: str, classes: int, plan: Plan | None = None) -> float:
    """The margin the plan declares for the finding `key` (as written, placeholders included), on its quantity's
    scale for data with `classes` classes: what a figure draws beside the numbers the finding decides."""
    entry = next(entry for entry in (plan or load_plan()).findings if entry["key"] == key)
    declared = Declared(key, "", entry["family"], entry["quantity"], (), "", "", entry["test"], entry["margin"], ())
    return declared.margin_on(classes)


def _values(params: Params) -> dict[str, list[str]]:
    """Each placeholder's values in this run."""
    from stages.reporting.findings import verdict_bptt

    sizes = sorted(params.capacity.examples_per_class)
    return {"bptt": [str(verdict_bptt(params))], "dataset": list(params.realdata.dataset),
            "fewest": [str(sizes[0])] if sizes else [], "most": [str(sizes[-1])] if sizes else []}


UNFILLED_WORDS = {"dataset": "real"}  # a placeholder without a value in this run, as its claim says it


def _words(name: str, value: str) -> str:
    """A placeholder's value as a claim says it: a cell or an initial-state mode in words."""
    from stages.reporting.words import STATES, cell_words

    if value.startswith("{"):  # no value in this run: the claim speaks of the kind ("On real recordings, ...")
        return UNFILLED_WORDS.get(name, name)
    if name == "cell":
        return cell_words(value, code=False)
    return STATES.get(value, value) if name == "initial_state_type" else value


def _fill(text: str, values: dict[str, str], key: str) -> str:
    def one(match: re.Match) -> str:
        if match[1] not in values:
            raise _problem(key, "cells", f"unknown placeholder {{{match[1]}}} in {text!r}")
        return values[match[1]]

    return _PLACEHOLDER.sub(one, text)


def expand(plan: Plan, params: Params) -> list[Declared]:
    """The plan's findings for one run: placeholders filled, `for_each` repeated. A finding over a placeholder with no
    value in this run (no real data set, no capacity axis) keeps one entry, which reads *not in this run*."""
    run_values = _values(params)
    declared = []
    for entry in plan.findings:
        key = entry["key"]
        each = entry.get("for_each") or {}
        axes = {axis: (probe_cells(params) if values == "probed" else list(values)) for axis, values in each.items()}
        used = {name for text in (key, *entry["cells"], *entry["pre"]) for name in _PLACEHOLDER.findall(text)}
        run_axes = {name: run_values[name] for name in sorted(used - set(axes)) if name in run_values}
        choices = {**run_axes, **axes}
        names = list(choices)
        # A placeholder without a value in this run stays spelt as itself: the finding reads *not in this run*.
        for combination in itertools.product(*(choices[name] or [f"{{{name}}}"] for name in names)):
            values = {name: value for name, value in zip(names, combination)}
            label_values = {name: value.strip("{}").replace("/", "_").replace("-", "_")
                            for name, value in values.items()}
            filled_key = _fill(key, label_values, key)
            claim = _fill(" ".join(entry["claim"].split()), {name: _words(name, value)
                                                             for name, value in values.items()}, key)
            if len(claim) > CLAIM_LENGTH:
                raise _problem(filled_key, "claim", f"{claim!r} is longer than {CLAIM_LENGTH} characters")
            preconditions = tuple(tuple(_fill(str(condition), values, key).split(" ", 1)) for condition in entry["pre"])
            declared.append(Declared(
                key=filled_key, claim=claim, family=entry["family"],
                quantity=entry["quantity"], cells=tuple(_fill(cell, values, key) for cell in entry["cells"]),
                arms=_fill(entry["arms"], values, key), held_equal=_fill(entry["held_equal"], values, key),
                test=entry["test"], margin=float(entry["margin"]), preconditions=preconditions,
                repeated=bool(each)))
    return declared
