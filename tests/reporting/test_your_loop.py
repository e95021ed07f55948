"""The report's "In your own training loop" snippet (stages/reporting/templates/your_loop.py): short enough to print,
importable on plain torch, and right at a tiny size. On `SameRandom` data (each random sequence once with label 0 and
once with label 1) the write-up's loop (detached state carried across updates, random initial states) opens a
frozen-minus-update loss gap well above the margin, while the fix (every chunk from a fresh state) opens none."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest
import torch

SNIPPET = Path(__file__).resolve().parents[2] / "stages" / "reporting" / "templates" / "your_loop.py"
MAX_LINES = 30
MAX_WIDTH = 100

# The check's size: 8 random sequences of 200 steps per class, 64 units, bptt 10, Adam at 0.02, 20 epochs. Pilot on
# seeds 0-9: the write-up's loop starts fitting the initial states at epoch 6-10, and its gap averaged over the last
# 5 epochs was 0.95-1.83 nats; the stateless fix kept the update loss at 0.69-0.71 and every gap within 0.04 nats.
SEQUENCES, STEPS, HIDDEN, BPTT, LEARNING_RATE, EPOCHS, LAST = 8, 200, 64, 10, 0.02, 20, 5
CHANCE = math.log(2)
MARGIN = 0.2 * CHANCE


def load_snippet():
    spec = importlib.util.spec_from_file_location("your_loop", SNIPPET)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def same_random(sequences: int, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(2 x sequences, steps, 1) inputs: each N(0, 1) sequence once with label 0 and once with label 1."""
    random = torch.randn(sequences, steps, 1)
    return torch.cat([random, random]), torch.cat([torch.zeros(sequences), torch.ones(sequences)]).long()


def train(seed: int, carry: bool) -> tuple[list[float], list[float]]:
    """Update-pass losses of every epoch and frozen-minus-update gaps of the last LAST epochs."""
    loop = load_snippet()
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        x, y = same_random(SEQUENCES, STEPS)
        gru, head = torch.nn.GRU(1, HIDDEN, batch_first=True), torch.nn.Linear(HIDDEN, 2)
        optimizer = torch.optim.Adam([*gru.parameters(), *head.parameters()], lr=LEARNING_RATE)
        losses, gaps = [], []
        for epoch in range(EPOCHS):
            losses.append(loop.run_pass(gru, head, x, y, BPTT, optimizer, carry=carry))
            if epoch >= EPOCHS - LAST:
                gaps.append(loop.frozen_gap(gru, head, x, y, BPTT, losses[-1], carry=carry))
    return losses, gaps


def test_snippet_fits_the_report():
    lines = SNIPPET.read_text().splitlines()
    assert len(lines) <= MAX_LINES
    assert all(len(line) <= MAX_WIDTH for line in lines), [line for line in lines if len(line) > MAX_WIDTH]
    assert all(not line.startswith(("from stages", "import stages")) for line in lines)


@pytest.mark.parametrize("seed", [0, 1])
def test_write_ups_loop_opens_a_gap_and_the_fix_does_not(seed):
    _, carried_gaps = train(seed, carry=True)
    assert sum(carried_gaps) / LAST > MARGIN, carried_gaps

    stateless_losses, stateless_gaps = train(seed, carry=False)
    assert all(abs(gap) <= MARGIN for gap in stateless_gaps), stateless_gaps
    assert all(abs(loss - CHANCE) <= MARGIN for loss in stateless_losses[-LAST:]), stateless_losses


def test_burn_in_replays_its_steps_without_gradient():
    """burn_in costs burn_in extra forward steps per chunk (fewer where the sequence has not yet that many), and only
    the chunk's own steps carry a gradient to the weights."""
    loop = load_snippet()
    with torch.random.fork_rng():
        torch.manual_seed(0)
        x, y = same_random(2, 50)
        gru, head = torch.nn.GRU(1, 8, batch_first=True), torch.nn.Linear(8, 2)
        calls = []  # (steps, whether the output carries a gradient) of every forward call, in order
        gru.register_forward_hook(lambda module, inputs, output: calls.append((inputs[0].shape[1],
                                                                               output[1].requires_grad)))
        loop.run_pass(gru, head, x, y, 10, burn_in=15)
    # Chunks at t = 0, 10, 20, 30, 40; those after the first replay 10, 15, 15, 15 steps first, without gradient.
    assert calls == [(10, True), (10, False), (10, True)] + [(15, False), (10, True)] * 3
