"""The classifier (a GRU with a linear head) and the initial hidden states it starts each pass from."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from stages.params import INITIAL_STATE_TYPES


@dataclass(frozen=True)
class ModelConfig:
    input_size: int
    hidden_size: int
    num_layers: int
    num_classes: int

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


class SequenceClassifier(nn.Module):
    """GRU over the steps, linear head on the hidden output; the head is applied only where a loss is taken."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.rnn = nn.GRU(config.input_size, config.hidden_size, config.num_layers, batch_first=True)
        self.head = nn.Linear(config.hidden_size, config.num_classes)

    def forward(self, chunk: torch.Tensor, hidden: torch.Tensor, *, every_step: bool) -> tuple[torch.Tensor, torch.Tensor]:
        # chunk: (B, T, I); hidden: (L, B, H) -> logits (B, C) at the last step, or (B, T, C) at every step
        outputs, hidden = self.rnn(chunk, hidden)
        logits = self.head(outputs if every_step else outputs[:, -1])
        return logits, hidden


def initial_states(
    mode: str, *, num_layers: int, batch: int, hidden_size: int, generator: torch.Generator, device: torch.device
) -> torch.Tensor:
    """Fresh initial states, one per sequence: zeros, or N(0, 1) clipped to [-1, 1] as in the write-up."""
    shape = (num_layers, batch, hidden_size)
    if mode == "Zeros":
        return torch.zeros(shape, device=device)
    if mode == "Random":
        # Drawn on the CPU from a dedicated generator so the states are the same on every device.
        return torch.randn(shape, generator=generator).clamp_(-1.0, 1.0).to(device)
    raise ValueError(f"initial_state_type: unknown mode {mode!r}; expected one of {', '.join(INITIAL_STATE_TYPES)}")
