"""Initial states and the classifier."""

from __future__ import annotations

import pytest
import torch

from stages.model import ModelConfig, SequenceClassifier, initial_states


def _states(mode: str, seed: int = 0) -> torch.Tensor:
    return initial_states(mode, num_layers=2, batch=64, hidden_size=32, generator=torch.Generator().manual_seed(seed),
                          device=torch.device("cpu"))


def test_zero_states_are_zero():
    states = _states("Zeros")
    assert states.shape == (2, 64, 32) and not states.any()


def test_random_states_are_clipped_normal_draws_one_per_sequence():
    states = _states("Random")
    assert states.shape == (2, 64, 32)
    assert states.min() >= -1 and states.max() <= 1
    # N(0, 1) clipped at 1: about 32% of values sit exactly on the clip bounds.
    on_bounds = (states.abs() == 1).float().mean().item()
    assert 0.25 < on_bounds < 0.40
    assert len({tuple(row.tolist()) for row in states[0]}) == 64  # every sequence gets its own state


def test_random_states_are_seeded():
    torch.testing.assert_close(_states("Random", seed=3), _states("Random", seed=3))
    assert not torch.equal(_states("Random", seed=3), _states("Random", seed=4))


def test_unknown_initial_state_mode_is_refused():
    with pytest.raises(ValueError, match="initial_state_type: unknown mode 'Learned'"):
        _states("Learned")


def test_head_at_last_step_equals_head_at_every_step_sliced():
    torch.manual_seed(0)
    model = SequenceClassifier(ModelConfig(input_size=3, hidden_size=16, num_layers=2, num_classes=2))
    chunk, hidden = torch.randn(4, 7, 3), torch.zeros(2, 4, 16)
    last, last_hidden = model(chunk, hidden, every_step=False)
    every, every_hidden = model(chunk, hidden, every_step=True)
    assert every.shape == (4, 7, 2) and last.shape == (4, 2)
    torch.testing.assert_close(last, every[:, -1])
    torch.testing.assert_close(last_hidden, every_hidden)
