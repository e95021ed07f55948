"""The classifier (a GRU or LSTM with a linear head), one per replica seed, and the initial states it starts from.

A cell trains all its replica seeds together: `ReplicaClassifier` holds each replica's weights stacked along a
first axis and runs them as one batched computation (`stages/rnn.py`). Every replica is still its own network:
its initial weights are exactly those `torch.nn.GRU` / `torch.nn.LSTM` and `torch.nn.Linear` draw after
`torch.manual_seed(seed)`, and nothing is shared between replicas.

State layout: (replicas, layers, sequences, state width); the width is H for a GRU and 2H for an LSTM (h, then c).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from stages.core.files import MODEL, atomic_path, require_file
from stages.core.params import INITIAL_STATE_TYPES, RNN_CELLS, Cell, Params, ParamsError, sequence_shape
from stages.learning.rnn import GRUChunk, LSTMChunk
from stages.learning.runtime import WEIGHTS, replicate_seeds


@dataclass(frozen=True)
class ModelConfig:
    input_size: int
    hidden_size: int
    num_layers: int
    num_classes: int
    cell: str  # GRU | LSTM
    replicas: int
    learned_initial_state: bool  # one trainable initial state per layer and replica, shared by all sequences

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def state_size(self) -> int:
        return self.hidden_size * (2 if self.cell == "LSTM" else 1)


class ReplicaClassifier(nn.Module):
    """`replicas` independent RNN classifiers run as one computation; the head is applied only where a loss is."""

    def __init__(self, config: ModelConfig, seeds: list[int]) -> None:
        super().__init__()
        if config.cell not in RNN_CELLS:
            raise ValueError(f"model.cell: unknown cell {config.cell!r}; expected one of {', '.join(RNN_CELLS)}")
        if len(seeds) != config.replicas:
            raise ValueError(f"replicates: {len(seeds)} seeds given for {config.replicas} replicas")
        self.config = config
        references = [self.reference_network(config, seed) for seed in seeds]
        for layer in range(config.num_layers):
            for name in ("weight_ih", "weight_hh"):
                # PyTorch stores (G*H, in); the batched products want (in, G*H).
                stacked = torch.stack([getattr(rnn, f"{name}_l{layer}").detach().T for rnn, _ in references])
                self.register_parameter(f"{name}_l{layer}", nn.Parameter(stacked.contiguous()))
            for name in ("bias_ih", "bias_hh"):
                stacked = torch.stack([getattr(rnn, f"{name}_l{layer}").detach()[None] for rnn, _ in references])
                self.register_parameter(f"{name}_l{layer}", nn.Parameter(stacked.contiguous()))
        self.head_weight = nn.Parameter(torch.stack([head.weight.detach().T for _, head in references]).contiguous())
        self.head_bias = nn.Parameter(torch.stack([head.bias.detach()[None] for _, head in references]).contiguous())
        if config.learned_initial_state:
            # Zeros to start with: the learned mode begins where the zero mode is and moves only by gradient.
            self.initial_state = nn.Parameter(torch.zeros(config.replicas, config.num_layers, 1, config.state_size))

    @staticmethod
    def reference_network(config: ModelConfig, seed: int) -> tuple[nn.Module, nn.Linear]:
        """The single-replica PyTorch modules whose initial weights replica `seed` takes (also used by the tests)."""
        torch.manual_seed(seed)
        kind = nn.GRU if config.cell == "GRU" else nn.LSTM
        rnn = kind(config.input_size, config.hidden_size, config.num_layers, batch_first=True)
        return rnn, nn.Linear(config.hidden_size, config.num_classes)

    def layer_weights(self, layer: int) -> tuple[torch.Tensor, ...]:
        return tuple(getattr(self, f"{name}_l{layer}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))

    def forward(self, chunk: torch.Tensor, state: torch.Tensor, *,
                every_step: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """chunk (S, B, T, I), state (S, L, B, W) -> logits (S, B, C) at the last step or (S, B, T, C), new state."""
        hidden = self.config.hidden_size
        features, last_states = chunk, []
        for layer in range(self.config.num_layers):
            w_ih, w_hh, b_ih, b_hh = self.layer_weights(layer)
            if self.config.cell == "GRU":
                features = GRUChunk.apply(features, state[:, layer], w_ih, w_hh, b_ih, b_hh)
                last_states.append(features[:, :, -1])
            else:
                layer_state = state[:, layer]
                features, cell_last = LSTMChunk.apply(
                    features, layer_state[..., :hidden], layer_state[..., hidden:], w_ih, w_hh, b_ih, b_hh
                )
                last_states.append(torch.cat([features[:, :, -1], cell_last], dim=-1))
        if every_step:
            replicas, batch, steps, _ = features.shape
            logits = torch.baddbmm(self.head_bias, features.reshape(replicas, batch * steps, hidden), self.head_weight)
            logits = logits.view(replicas, batch, steps, -1)
        else:
            logits = torch.baddbmm(self.head_bias, features[:, :, -1], self.head_weight)
        return logits, torch.stack(last_states, dim=1)


def initial_states(
    mode: str,
    *,
    model: ReplicaClassifier,
    batch: int,
    generators: list[torch.Generator],
    device: torch.device,
) -> torch.Tensor:
    """Initial states (S, L, B, W), one per sequence and replica.

    Zeros; Random: N(0, 1) clipped to [-1, 1] as in the write-up, drawn from each replica's own generator (so a
    replica's draws do not depend on how many replicas train beside it); Learned: the model's trainable state,
    the same for every sequence.
    """
    config = model.config
    shape = (config.num_layers, batch, config.state_size)
    if mode == "Zeros":
        return torch.zeros((config.replicas, *shape), device=device)
    if mode == "Random":
        # Drawn on the CPU so that the states are the same on every device.
        draws = [torch.randn(shape, generator=generator).clamp_(-1.0, 1.0) for generator in generators]
        return torch.stack(draws).to(device)
    if mode == "Learned":
        if not config.learned_initial_state:
            raise ValueError("initial_state_type: 'Learned' needs a model built with a learned initial state")
        return model.initial_state.expand(config.replicas, config.num_layers, batch, config.state_size)
    raise ValueError(f"initial_state_type: unknown mode {mode!r}; expected one of {', '.join(INITIAL_STATE_TYPES)}")


def state_source(mode: str, model: ReplicaClassifier, generators: list[torch.Generator],
                 device: torch.device) -> Callable[[int], torch.Tensor]:
    """A pass's source of fresh initial states: number of sequences -> states (S, L, n, W) of the cell's mode."""
    def fresh(batch: int) -> torch.Tensor:
        return initial_states(mode, model=model, batch=batch, generators=generators, device=device)

    return fresh


def model_config(params: Params, cell: Cell, num_classes: int) -> ModelConfig:
    return ModelConfig(
        input_size=sequence_shape(params, cell.data_type)[1],
        hidden_size=cell.hidden_size,
        num_layers=params.model.num_layers,
        num_classes=num_classes,
        cell=cell.cell,
        replicas=cell.replicates,
        learned_initial_state=cell.initial_state_type == "Learned",
    )


def build_model(params: Params, cell: Cell, num_classes: int, device: torch.device) -> ReplicaClassifier:
    # Replicate r starts from the same weights in every cell of the same size, so cells differ only by their setting.
    config = model_config(params, cell, num_classes)
    return ReplicaClassifier(config, replicate_seeds(params, WEIGHTS, cell.replicates)).to(device)


def make_optimizer(model: torch.nn.Module, *, learning_rate: float, weight_decay: float) -> torch.optim.Adam:
    # fused: one kernel updates every parameter instead of a loop of small ops per parameter (about 20% faster per
    # update at 64 units on the CPU); the same Adam update up to float rounding.
    return torch.optim.Adam(model.parameters(), lr=learning_rate, weight_decay=weight_decay, fused=True)


def save_model(folder: Path, model: ReplicaClassifier, cell: Cell, loss_on: str,
               last_update_states: list[torch.Tensor]) -> None:
    """A cell's final weights (`model.pt`), with what rebuilding and evaluating them needs."""
    torch.save({
        "model_config": model.config.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "cell": asdict(cell),
        "loss_on": loss_on,
        "last_update_states": last_update_states,
    }, folder / MODEL)


def load_model(folder: Path, params: Params, cell: Cell, device: torch.device) -> tuple[ReplicaClassifier, list]:
    """The final weights in a training folder and the saved generator states of the last update pass; weights
    written for another model than params.yaml describes are refused, naming the settings."""
    # weights_only: a checkpoint is data, never code to execute.
    checkpoint = torch.load(require_file(folder / MODEL, "model checkpoint"), map_location=device, weights_only=True)
    config = ModelConfig(**checkpoint["model_config"])
    expected = model_config(params, cell, config.num_classes)
    if config != expected:
        found = (config.input_size, config.hidden_size, config.num_layers, config.cell, config.replicas)
        wanted = (expected.input_size, expected.hidden_size, expected.num_layers, expected.cell, expected.replicas)
        raise ParamsError(
            f"{folder / MODEL}: checkpoint has input_size, hidden_size, num_layers, cell, replicates = {found} but "
            f"params.yaml asks for {wanted}; rerun the train stage"
        )
    model = ReplicaClassifier(config, replicate_seeds(params, WEIGHTS, cell.replicates)).to(device)
    model.load_state_dict(checkpoint["state_dict"])
    return model.eval(), list(checkpoint["last_update_states"])


def save_whole(path: Path, state: dict) -> None:
    """torch.save, written whole or not at all: a kill during the save leaves the previous file in place."""
    with atomic_path(path) as temporary:
        torch.save(state, temporary)
