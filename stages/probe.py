"""Stages `probe`, `probe_real`: where the gap comes from, measured along the last epoch of a key cell.

The train stage keeps, for the cells named in `probe.grid` and `probe.real`, the weights, optimizer state and
generators as the last update pass began. This stage replays that pass exactly: its per-update losses must equal the
logged ones and its final weights the saved ones (the exactness check, a control in the report). At every update k,
with the weights W_k that scored chunk k (before they step on it), it runs forward passes that differ from the update
pass in one thing only:

- `own_state`: at every `probe.every`-th update and the last, the state that W_k computes itself over the sequence
  so far from the same initial state, instead of the carried one that earlier weights wrote (state staleness, in the
  words of Kapturowski et al., "Recurrent Experience Replay in Distributed Reinforcement Learning", ICLR 2019);
- `lag L`: at the same points (those with weights that old in this epoch), the weights of L updates earlier
  (`probe.lags`) on the same carried state and chunk: how fast the fit to a chunk decays as the weights move on;
- trajectories: chunk k scored by W_k as in the update pass, but run from fresh initial states (`trajectory_fresh`),
  from zero states (`trajectory_zero`; neither where the cell's own states are zero, as both would be the update
  pass itself), over held-out sequences from fresh states (`trajectory_heldout`: what the
  updates teach that transfers) and, on `SameRandom` with random states, from the update pass's own initial states
  with those of each pair of identical sequences swapped (`trajectory_swapped`: a control, since the pair differs in
  nothing else).

At the last chunk (sequence level, the report's primary score) three of these split the part of the gap that lies
within the epoch (updating minus replayed, stage `evaluate`) into two parts that add up to it: the *stale carried
state* (updating minus own state: same weights W_{U-1}, same initial state, only who wrote the state differs) and
*the last update* (own state minus replayed: W_{U-1} against the final weights, each on the state it computes
itself; the final weights' pass from the replayed states is stage `evaluate`'s).

The recording (`data/record/<family>/<key>.npz`, a DVC output) holds the logits of every update and sequence, and the
carried state and the weights every `probe.record_every` updates. Each recorded snapshot, run on its recorded state
and chunk, must reproduce the logged loss of that update.

    python -m stages.probe --cell grid/SameRandom-Random-10
"""

from __future__ import annotations

import copy
import sys
import time
from collections import deque
from dataclasses import dataclass

import numpy as np
import torch

from stages.core import command
from stages.core.data import SPLITS, SequenceSet, cell_sequences, load_split, num_classes
from stages.core.files import LAST_EPOCH_START, MODEL, UPDATE_LOSSES, Layout, atomic_path, require_file, write_json
from stages.core.params import Cell, Params, ParamsError, find_cell, probe_cells
from stages.learning.model import ReplicaClassifier, build_model, initial_states, make_optimizer, state_source
from stages.learning.runtime import (
    EVALUATION_STATES,
    TRAINING_STATES,
    configure_numerics,
    replicate_seeds,
    resolve_device,
    state_generators,
    write_timing,
)
from stages.learning.tbptt import loss_and_accuracy, pass_settings, run_pass, to_chunks


def pair_swap(examples_per_class: int) -> torch.Tensor:
    """Indices that swap sequence j of class 0 with sequence j of class 1 (class 0 first, as `stages.core.data` lays
    them out): on `SameRandom` the two are the same input, so only their initial states tell them apart."""
    first = torch.arange(examples_per_class)
    return torch.cat([first + examples_per_class, first])


def _scores(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-replica loss and accuracy of the last step's logits (S, n, C) or (S, n, T, C)."""
    return loss_and_accuracy(logits[:, :, -1] if logits.dim() == 4 else logits, labels)


def _last_step(logits: torch.Tensor) -> torch.Tensor:
    return logits[:, :, -1] if logits.dim() == 4 else logits


class Prober:
    """The observer of the replayed update pass: at every update, forward passes with the weights of that moment."""

    def __init__(self, params: Params, cell: Cell, model: ReplicaClassifier, train: SequenceSet,
                 heldout: SequenceSet, device: torch.device) -> None:
        probe = params.probe
        self.model, self.every_step = model, params.train.loss_on == "every"
        self.bptt = cell.bptt_size
        self.inputs = torch.from_numpy(train.inputs).to(device)
        self.labels = torch.from_numpy(train.labels).to(device)
        self.chunks = to_chunks(self.inputs, self.bptt)
        self.updates = len(self.chunks)
        if max(probe.lags) >= self.updates:
            raise ParamsError(f"probe.lags: {max(probe.lags)} updates is not shorter than the {self.updates} updates "
                              f"of an epoch of {cell.name}")
        self.lags, self.first_lagged = sorted(probe.lags), max(probe.lags)
        last = self.updates - 1
        self.points = sorted({k for k in range(self.updates) if (k + 1) % probe.every == 0} | {last})
        # The lags are probed at the points that have weights that old within this epoch.
        self.lag_points = [k for k in self.points if k >= self.first_lagged]
        self.record_points = sorted({k for k in range(self.updates) if k % probe.record_every == 0} | {last})
        # Earlier weights for the lag probes, newest last; and a model to run them in.
        self.history: deque[list[torch.Tensor]] = deque(maxlen=self.first_lagged + 1)
        self.lagged = copy.deepcopy(model)
        fresh = state_generators(replicate_seeds(params, EVALUATION_STATES, cell.replicates, root=probe.seed))
        mode = cell.initial_state_type

        def states(kind: str, batch: int) -> torch.Tensor:
            return initial_states(kind, model=model, batch=batch, generators=fresh, device=device).detach().clone()

        heldout_inputs = torch.from_numpy(heldout.inputs).to(device)
        sequences, held = self.labels.shape[1], heldout.labels.shape[1]
        # Each trajectory: its chunks, labels and running state (the initial one set here, or at the first update).
        self.trajectories: dict[str, list] = {}
        if mode != "Zeros":  # from zero states, both would repeat the update pass itself
            self.trajectories["trajectory_fresh"] = [self.chunks, self.labels, states(mode, sequences)]
            self.trajectories["trajectory_zero"] = [self.chunks, self.labels, states("Zeros", sequences)]
        self.trajectories["trajectory_heldout"] = [to_chunks(heldout_inputs, self.bptt),
                                                   torch.from_numpy(heldout.labels).to(device), states(mode, held)]
        self.swap = None
        if cell.data_type == "SameRandom" and mode == "Random":
            self.swap = pair_swap(cell.examples_per_class).to(device)
            self.trajectories["trajectory_swapped"] = [self.chunks, self.labels, None]
        replicas = self.labels.shape[0]
        self.chunk_scores = {name: torch.zeros(2, self.updates, replicas) for name in ("update", *self.trajectories)}
        self.lag_scores = {lag: torch.zeros(2, len(self.lag_points), replicas) for lag in (0, *self.lags)}
        self.own_scores = torch.zeros(2, len(self.points), replicas)
        self.update_at_points = torch.zeros(2, len(self.points), replicas)
        self.state_distance = torch.zeros(len(self.points), replicas)
        self.final: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self.final_logits: dict[str, torch.Tensor] = {}
        self.logits: list[torch.Tensor] = []
        self.recorded_states: list[torch.Tensor] = []
        self.recorded_weights: list[dict[str, torch.Tensor]] = []
        self.initial_state: torch.Tensor | None = None

    def _forward(self, model: ReplicaClassifier, chunk: torch.Tensor, state: torch.Tensor):
        return model(chunk, state, every_step=self.every_step)

    def __call__(self, k: int, state: torch.Tensor, logits: torch.Tensor) -> None:
        with torch.no_grad():
            self._observe(k, state, logits)

    def _observe(self, k: int, state: torch.Tensor, logits: torch.Tensor) -> None:
        last = k == self.updates - 1
        if k == 0:
            self.initial_state = state.clone()
            if self.swap is not None:
                self.trajectories["trajectory_swapped"][2] = state[:, :, self.swap].clone()
            # Every trajectory takes the same weights and chunk index at every update, so they run as one batch:
            # more sequences per product, one call per chunk instead of one per trajectory.
            parts = list(self.trajectories.values())
            self.chain_sizes = [labels.shape[1] for _, labels, _ in parts]
            self.chain_chunks = torch.cat([chunks for chunks, _, _ in parts], dim=2)
            self.chain_labels = [labels for _, labels, _ in parts]
            self.chain_state = torch.cat([running for _, _, running in parts], dim=2)
        loss, accuracy = _scores(logits, self.labels)
        self.chunk_scores["update"][:, k] = torch.stack([loss, accuracy])
        self.logits.append(_last_step(logits).clone())
        if last:
            self.final["update"] = (loss, accuracy)
            self.final_logits["update"] = _last_step(logits)
        if k in self.record_points:
            self.recorded_states.append(state.clone())
            self.recorded_weights.append({n: p.detach().clone() for n, p in self.model.named_parameters()})
        out, self.chain_state = self._forward(self.model, self.chain_chunks[k], self.chain_state)
        for name, labels, chain_out in zip(self.trajectories, self.chain_labels,
                                           out.split(self.chain_sizes, dim=1)):
            scores = _scores(chain_out, labels)
            self.chunk_scores[name][:, k] = torch.stack(scores)
            if last:
                self.final[name] = scores
                self.final_logits[name] = _last_step(chain_out)
        if k in self.lag_points:
            row = self.lag_points.index(k)
            self.lag_scores[0][:, row] = torch.stack([loss, accuracy])
            for lag in self.lags:
                for target, source in zip(self.lagged.parameters(), self.history[-lag]):
                    target.copy_(source)
                out, _ = self._forward(self.lagged, self.chunks[k], state)
                self.lag_scores[lag][:, row] = torch.stack(_scores(out, self.labels))
        if k in self.points:
            index = self.points.index(k)
            own = self.initial_state
            for earlier in range(k):  # the state these weights compute themselves over the sequence so far
                _, own = self._forward(self.model, self.chunks[earlier], own)
            out, _ = self._forward(self.model, self.chunks[k], own)
            scores = _scores(out, self.labels)
            self.own_scores[:, index] = torch.stack(scores)
            self.update_at_points[:, index] = torch.stack([loss, accuracy])
            distance = (state - own).flatten(2).norm(dim=2) / state.flatten(2).norm(dim=2).clamp_min(1e-12)
            self.state_distance[index] = distance.mean(dim=1)
            if last:
                self.final["own_state"] = scores
        self.history.append([p.detach().clone() for p in self.model.parameters()])


def _mean(scores: torch.Tensor) -> dict:
    """(2, chunks, S) loss and accuracy -> each replica's mean over the chunks."""
    return {"loss": scores[0].mean(dim=0).tolist(), "accuracy": scores[1].mean(dim=0).tolist()}


def probe_cell(params: Params, cell: Cell, start: dict, saved_weights: dict, logged_losses: np.ndarray,
               train: SequenceSet, heldout: SequenceSet, device: torch.device) -> tuple[dict, dict]:
    """Replay the last update pass of `cell` from `start` with every probe; return the probe results (per replica
    lists) and the recording (numpy arrays)."""
    configure_numerics(params)
    model = build_model(params, cell, num_classes(train), device)
    model.load_state_dict(start["model"])
    optimizer = make_optimizer(model, learning_rate=cell.learning_rate, weight_decay=params.train.weight_decay)
    optimizer.load_state_dict(start["optimizer"])
    generators = state_generators(replicate_seeds(params, TRAINING_STATES, cell.replicates))
    for generator, state in zip(generators, start["state_generators"]):
        generator.set_state(state)
    schedule = torch.Generator()
    schedule.set_state(start["schedule_generator"])
    settings = pass_settings(params, cell)
    prober = Prober(params, cell, model, train, heldout, device)
    updating = run_pass(model, prober.inputs, prober.labels, state_source(cell.initial_state_type, model, generators,
                                                                          device),
                        settings, optimizer=optimizer, schedule_generator=schedule,
                        where=f"cell {cell.name}, replayed last update pass", observer=prober)
    model.eval()
    with torch.no_grad():
        # Exactness: each recorded snapshot on its recorded state and chunk gives the logged loss of that update.
        recording_error = 0.0
        for k, state, weights in zip(prober.record_points, prober.recorded_states, prober.recorded_weights):
            prober.lagged.load_state_dict(weights)
            out, _ = prober._forward(prober.lagged, prober.chunks[k], state)
            loss, _ = _scores(out, prober.labels)
            recording_error = max(recording_error, float((loss - torch.from_numpy(logged_losses[k])).abs().max()))
    final_state = model.state_dict()
    weights_error = max(float((final_state[name].cpu() - value).abs().max()) for name, value in saved_weights.items())
    update_error = float(np.abs(updating.losses.numpy() - logged_losses).max())
    flips = None
    if prober.swap is not None:
        original = prober.final_logits["update"].argmax(dim=-1)
        swapped = prober.final_logits["trajectory_swapped"].argmax(dim=-1)
        flips = (original != swapped).float().mean(dim=1).tolist()
    final = {name: {"loss": loss.tolist(), "accuracy": accuracy.tolist()} for name, (loss, accuracy)
             in prober.final.items()}
    results = {
        "exactness": {"update_loss_max_difference": update_error, "final_weights_max_difference": weights_error,
                      "recording_loss_max_difference": recording_error},
        "updates": prober.updates,
        # Sequence level: the last chunk of the epoch, each sequence's prediction at its last step.
        "final_step": final,
        "swap_flips": flips,
        # Chunk level: every update of the epoch.
        "chunk": {name: _mean(scores) for name, scores in prober.chunk_scores.items()},
        "lags": {"points": [k + 1 for k in prober.lag_points],
                 **{str(lag): _mean(scores) for lag, scores in prober.lag_scores.items()}},
        "own_state": {"points": [k + 1 for k in prober.points], "own": _mean(prober.own_scores),
                      "update": _mean(prober.update_at_points),
                      "relative_state_distance": prober.state_distance.mean(dim=0).tolist()},
    }
    recording = {
        "logits": torch.stack(prober.logits).cpu().numpy(),  # (updates, S, sequences, classes)
        "losses": updating.losses.numpy(),  # (updates, S)
        "record_points": np.array([k + 1 for k in prober.record_points]),  # 1-based updates
        "states": torch.stack(prober.recorded_states).cpu().numpy(),  # (points, S, layers, sequences, width)
        **{f"weights.{name}": torch.stack([w[name] for w in prober.recorded_weights]).cpu().numpy()
           for name in prober.recorded_weights[0]},
    }
    return results, recording


@dataclass(frozen=True)
class Job:
    params: Params
    cell: Cell
    layout: Layout
    device: torch.device
    start: dict  # weights, optimizer and generators as the last update pass began (training kept them)
    saved_weights: dict  # the final weights, which the replay must reproduce
    logged_losses: np.ndarray  # (updates, seeds): the last epoch's update losses, which the replay must reproduce
    splits: dict[str, SequenceSet]


def prepare(args, params: Params) -> Job:
    configure_numerics(params, first=True)
    cell, layout = find_cell(params, args.cell), Layout(args.root)
    if cell.name not in probe_cells(params):
        raise ParamsError(f"probe.{cell.family}: {cell.key!r} is not listed, so its training kept no start of "
                          "the last epoch to replay")
    device, folder = resolve_device(params.train.device), layout.training(cell)
    start = torch.load(require_file(folder / LAST_EPOCH_START, "start of the last epoch"), map_location=device,
                       weights_only=True)
    saved = torch.load(require_file(folder / MODEL, "model checkpoint"), map_location="cpu",
                       weights_only=True)["state_dict"]
    logged = np.load(require_file(folder / UPDATE_LOSSES, "update losses"))[-1]
    data = layout.data_of(cell)
    splits = {split: cell_sequences(load_split(data, split), params, data, cell, split) for split in SPLITS}
    return Job(params, cell, layout, device, start, saved, logged, splits)


def work(job: Job) -> None:
    started = time.perf_counter()
    results, recording = probe_cell(job.params, job.cell, job.start, job.saved_weights, job.logged_losses,
                                    job.splits["train"], job.splits["heldout"], job.device)
    with atomic_path(job.layout.recording(job.cell)) as temporary:
        with temporary.open("wb") as handle:
            np.savez(handle, **recording)
    write_json(job.layout.probing(job.cell), results)
    write_timing(job.layout.timing_of(job.cell, "probe"), time.perf_counter() - started, job.device)
    exact = results["exactness"]
    print(f"[{job.cell.name}] replay: largest loss difference {exact['update_loss_max_difference']:.2g}, weights "
          f"{exact['final_weights_max_difference']:.2g}, recording {exact['recording_loss_max_difference']:.2g}; "
          f"recording {sum(a.nbytes for a in recording.values()) / 2**20:.1f} MiB")


def main(argv: list[str] | None = None) -> int:
    return command.run(__doc__, command.cell_arguments, prepare, work, argv)


if __name__ == "__main__":
    sys.exit(main())
