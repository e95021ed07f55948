"""Small models and passes shared by the tests of the TBPTT passes and of the cost floor."""

from __future__ import annotations

import torch

from stages.learning.model import ModelConfig, ReplicaClassifier, initial_states
from stages.learning.tbptt import PassSettings, run_pass

REPLICAS, BATCH, STEPS, FEATURES, HIDDEN, BPTT = 2, 8, 40, 2, 12, 10
CHUNKS = STEPS // BPTT


def _model(replicas: int = REPLICAS, seeds=None, cell: str = "GRU", learned: bool = False) -> ReplicaClassifier:
    config = ModelConfig(FEATURES, HIDDEN, 1, 2, cell, replicas, learned)
    return ReplicaClassifier(config, seeds if seeds is not None else list(range(replicas)))


def zeros_source(model: ReplicaClassifier):
    return lambda batch: initial_states("Zeros", model=model, batch=batch, generators=[], device=torch.device("cpu"))


def random_source(model: ReplicaClassifier, seed: int = 0):
    generators = [torch.Generator().manual_seed(seed + r) for r in range(model.config.replicas)]
    return lambda batch: initial_states("Random", model=model, batch=batch, generators=generators,
                                        device=torch.device("cpu"))


def _run(model, inputs, labels, source, protocol="per_chunk", optimizer=None, schedule_generator=None, where="",
         **kwargs):
    fields = {"bptt_size": BPTT, "loss_on": "last", "grad_clip": 1.0, "burn_in_steps": 15, "interleave_groups": 2}
    fields.update(kwargs)
    settings = PassSettings(protocol=protocol, **fields)
    if schedule_generator is None:
        schedule_generator = torch.Generator().manual_seed(0)
    return run_pass(model, inputs, labels, source, settings, optimizer=optimizer,
                    schedule_generator=schedule_generator, where=where)


def _still(model):
    """An optimizer that steps but changes nothing: losses then depend on the protocol's states only."""
    return torch.optim.SGD(model.parameters(), lr=0.0)
