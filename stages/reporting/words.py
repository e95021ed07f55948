"""Cells and settings named in words, as the report's prose and the figures' labels name them.

A cell's key (`grid/SameRandom-Random-10`) stays in the files, the tables of the appendix and the logs; a reader meets
"`SameRandom`, random states, bptt 10".
"""

from __future__ import annotations

from stages.core.params import FAMILY

STATES = {"Zeros": "zero states", "Random": "random states", "Learned": "learned states"}
PROTOCOLS = {"per_chunk": "the write-up's loop", "per_sequence": "per_sequence", "stateless": "stateless",
             "interleaved": "interleaved", "burn_in": "burn_in"}


def axes_of(name: str) -> tuple[str, dict[str, str]]:
    """A cell's family and its axis values (as text) from its name, family/key."""
    family, key = name.split("/", 1)
    values = key.split("-")
    axes = FAMILY[family].axes
    if len(values) != len(axes):
        raise ValueError(f"{name}: a {family} cell is named by {', '.join(axes)}")
    return family, dict(zip(axes, values))


def cell_words(name: str, *, code: bool = True) -> str:
    """A cell in words: "`SameRandom`, random states, bptt 10" (without backticks where `code` is False: figure
    labels)."""
    family, axes = axes_of(name)

    def data(value: str) -> str:
        return f"`{value}`" if code else value

    parts: list[str] = []
    if family == "onset":
        return f"{axes['hidden_size']} units, learning rate {axes['learning_rate']}"
    if family == "capacity":
        return f"{2 * int(axes['examples_per_class'])} training sequences"
    if "cell" in axes:
        parts.append(axes["cell"])
    if "protocol" in axes and (family != "real" or axes["protocol"] != "per_chunk"):
        parts.append(PROTOCOLS[axes["protocol"]])
    parts.append(data(axes["data_type"]))
    parts.append(STATES[axes["initial_state_type"]])
    if "bptt_size" in axes:
        parts.append(f"bptt {axes['bptt_size']}")
    return ", ".join(parts)
