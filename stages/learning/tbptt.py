"""One pass of truncated BPTT over a set of long sequences, with or without weight updates, under one protocol.

Every sequence is fed in consecutive chunks of `bptt_size` steps; the loss is the cross-entropy against the
sequence's label at the last step of each chunk (the write-up) or at every step. No gradient ever crosses a chunk
boundary. The protocols differ in where each chunk's starting state comes from and when the optimizer steps:

- `per_chunk` (the write-up's loop): the state is carried from chunk to chunk (detached); one step after every chunk.
- `per_sequence`: the same chunks and carried state, but the gradients of all chunks are accumulated (averaged) and
  the optimizer steps once per pass, so the weights are frozen within a sequence. With `sequences_per_update` k, the
  sequences are shuffled into minibatches of k and the optimizer steps after each minibatch's whole length: as many
  passes over the data, N / k steps per pass instead of one.
- `stateless`: every chunk starts from a fresh initial state of the cell's mode; nothing is carried.
- `interleaved`: the sequences are split into groups; each update takes the next chunk of one group, resuming each
  sequence's own stored state, and consecutive updates never share a sequence (TensorFlow's old state saver).
- `burn_in`: each chunk's state is rebuilt from a fresh initial state over the `burn_in_steps` steps just before it,
  without loss or gradient; nothing is carried from one update to the next.

A frozen pass (no optimizer) is the same computation without updates. For `per_sequence` and `interleaved` that is
the `per_chunk` pass: their only difference lies in when the weights change.

All tensors carry a leading replica axis S (one independent network per seed): inputs (S, N, T, I), labels (S, N),
states (S, L, N, W).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from stages.core.params import LOSS_ON, PROTOCOLS, Cell, Params
from stages.learning.model import ReplicaClassifier

CARRIED = ("per_chunk", "per_sequence", "interleaved")  # protocols whose frozen pass is the write-up's


class NonFiniteLoss(RuntimeError):
    """The loss became NaN or infinite; the message names where."""


@dataclass(frozen=True)
class PassSettings:
    """What a pass does, apart from its data, weights, optimizer and initial states: shared by every pass of a cell."""

    protocol: str  # one of PROTOCOLS
    bptt_size: int  # steps per chunk; must divide the sequence length
    loss_on: str  # "last": loss at the last step of each chunk (the write-up); "every": at every step
    grad_clip: float = 1.0  # maximum gradient norm per update, per replica
    burn_in_steps: int = 0  # protocol burn_in: steps replayed without loss or gradient before each chunk
    interleave_groups: int = 0  # protocol interleaved: groups of sequences updated in turn
    sequences_per_update: int = 0  # protocol per_sequence: minibatch of whole sequences per step (0: all of them)

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol: {self.protocol!r} is not one of {', '.join(PROTOCOLS)}")
        if self.bptt_size <= 0:
            raise ValueError(f"bptt_size: {self.bptt_size} must be positive")
        if self.loss_on not in LOSS_ON:
            raise ValueError(f"loss_on: {self.loss_on!r} is not one of {', '.join(LOSS_ON)}")
        if not self.grad_clip > 0:
            raise ValueError(f"grad_clip: {self.grad_clip} must be positive")
        if self.burn_in_steps < 0:
            raise ValueError(f"burn_in_steps: {self.burn_in_steps} must be at least 0")
        if self.sequences_per_update < 0:
            raise ValueError(f"sequences_per_update: {self.sequences_per_update} must be at least 0")
        if self.protocol == "interleaved" and self.interleave_groups < 2:
            raise ValueError(f"interleave_groups: {self.interleave_groups}; protocol interleaved needs at least 2")


def pass_settings(params: Params, cell: Cell) -> PassSettings:
    """The settings of every pass of a cell, update or frozen (shared by training, evaluation and the probes)."""
    return PassSettings(
        protocol=cell.protocol, bptt_size=cell.bptt_size, loss_on=params.train.loss_on,
        grad_clip=params.train.grad_clip, burn_in_steps=params.train.burn_in_steps,
        interleave_groups=params.train.interleave_groups, sequences_per_update=params.train.sequences_per_update,
    )


@dataclass
class PassResult:
    losses: torch.Tensor  # (U, S): the loss of every update (or chunk, in a frozen pass), per replica
    accuracies: torch.Tensor  # (U, S)
    final_step_loss: torch.Tensor  # (S,): at the last step of each sequence, averaged over sequences
    final_step_accuracy: torch.Tensor  # (S,)
    optimizer_steps: int
    steps_with_gradient: int = 0  # sequence-steps fed forward with a graph (each also fed backward)
    steps_without_gradient: int = 0  # sequence-steps fed forward without one (burn-in, frozen passes)
    order: list[tuple[int, list[int]]] = field(default_factory=list)  # (chunk, sequences) of each update

    @property
    def mean_loss(self) -> torch.Tensor:
        return self.losses.mean(dim=0)

    @property
    def mean_chunk_accuracy(self) -> torch.Tensor:
        return self.accuracies.mean(dim=0)


StateSource = Callable[[int], torch.Tensor]  # number of sequences -> fresh initial states (S, L, n, W)
# Called after each chunk's forward pass, before its update: (chunk index, the state the chunk started from, the
# chunk's logits). The weights are still those the chunk was scored with (stage `probe` reads them there).
Observer = Callable[[int, torch.Tensor, torch.Tensor], None]


def to_chunks(inputs: torch.Tensor, bptt_size: int) -> torch.Tensor:
    """(S, N, T, I) -> (T // bptt_size, S, N, bptt_size, I), contiguous, so each chunk is one cheap index."""
    replicas, batch, steps, features = inputs.shape
    if bptt_size <= 0 or steps % bptt_size:
        raise ValueError(f"bptt_size: {bptt_size} must be positive and divide the sequence length {steps}")
    chunks = inputs.reshape(replicas, batch, steps // bptt_size, bptt_size, features).permute(2, 0, 1, 3, 4)
    return chunks.contiguous()


def loss_and_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-replica mean cross-entropy and accuracy: logits (S, n, C) or (S, n, T, C), labels (S, n) -> (S,), (S,)."""
    if logits.dim() == 4:  # every step, against the sequence label repeated over the steps
        labels = labels[:, :, None].expand(logits.shape[:3])
    classes = logits.shape[-1]
    replicas = logits.shape[0]
    loss = F.cross_entropy(logits.reshape(-1, classes), labels.reshape(-1), reduction="none")
    correct = (logits.argmax(dim=-1) == labels).float()
    return loss.view(replicas, -1).mean(dim=1), correct.view(replicas, -1).mean(dim=1)


def clip_per_replica(model: ReplicaClassifier, max_norm: float) -> None:
    """`clip_grad_norm_` for each replica on its own: its gradient norm over all its parameters."""
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    squared = torch.stack([g.pow(2).flatten(1).sum(dim=1) for g in grads]).sum(dim=0)
    scale = (max_norm / (squared.sqrt() + 1e-6)).clamp(max=1.0)
    for grad in grads:
        grad.mul_(scale.view(-1, *([1] * (grad.dim() - 1))))


def interleaved_groups(labels: torch.Tensor, groups: int, generator: torch.Generator) -> list[list[int]]:
    """Split the sequences into `groups` groups holding the same number of each class, shuffled by `generator`."""
    members: list[list[int]] = [[] for _ in range(groups)]
    for label in torch.unique(labels[0]).tolist():
        indices = torch.nonzero(labels[0] == label).flatten()
        shuffled = indices[torch.randperm(len(indices), generator=generator)].tolist()
        for position, index in enumerate(shuffled):
            members[position % groups].append(index)
    return [sorted(group) for group in members]


def interleaved_order(chunks: int, groups: int, generator: torch.Generator) -> list[tuple[int, int]]:
    """(chunk, group) of every update: each round feeds every group its next chunk, in a shuffled order, and the
    first group of a round is never the last of the previous one, so consecutive updates never share a sequence."""
    order: list[tuple[int, int]] = []
    for chunk in range(chunks):
        round_order = torch.randperm(groups, generator=generator).tolist()
        if order and round_order[0] == order[-1][1]:
            round_order[0], round_order[-1] = round_order[-1], round_order[0]
        order += [(chunk, group) for group in round_order]
    return order


class _Pass:
    """Bookkeeping shared by the protocols: losses, step counts, the optimizer step, the final-step scores."""

    def __init__(
        self,
        *,
        settings: PassSettings,
        model: ReplicaClassifier,
        labels: torch.Tensor,
        optimizer: torch.optim.Optimizer | None,
        where: str,
    ) -> None:
        self.model, self.labels, self.every_step = model, labels, settings.loss_on == "every"
        self.optimizer, self.grad_clip, self.where = optimizer, settings.grad_clip, where
        replicas, sequences = labels.shape
        self.losses, self.accuracies, self.order = [], [], []
        self.final_logits = torch.zeros(replicas, sequences, model.config.num_classes, device=labels.device)
        self.steps_with_gradient = self.steps_without_gradient = self.optimizer_steps = 0

    def chunk(self, chunk, state, sequences: list[int] | None, chunk_index: int, last_chunk: bool):
        """Feed one chunk from `state`; return the loss tensor (S,) and the new state."""
        labels = self.labels if sequences is None else self.labels[:, sequences]
        logits, new_state = self.model(chunk, state, every_step=self.every_step)
        loss, accuracy = loss_and_accuracy(logits, labels)
        steps = chunk.shape[1] * chunk.shape[2]
        if torch.is_grad_enabled():
            self.steps_with_gradient += steps
        else:
            self.steps_without_gradient += steps
        self.last_logits = logits.detach()
        self.losses.append(loss.detach())
        self.accuracies.append(accuracy)
        self.order.append((chunk_index, list(range(labels.shape[1])) if sequences is None else sequences))
        if last_chunk:
            final = (logits[:, :, -1] if self.every_step else logits).detach()
            if sequences is None:
                self.final_logits = final
            else:
                self.final_logits[:, sequences] = final
        return loss, new_state

    def step(self, loss: torch.Tensor | None = None) -> None:
        if loss is not None:
            self.optimizer.zero_grad(set_to_none=True)
            loss.sum().backward()  # replicas share no parameter, so the sum gives each its own gradient
        clip_per_replica(self.model, self.grad_clip)
        self.optimizer.step()
        self.optimizer_steps += 1

    def result(self) -> PassResult:
        losses = torch.stack(self.losses).cpu()
        bad = (~torch.isfinite(losses)).nonzero()
        if len(bad):
            index, replica = int(bad[0, 0]), int(bad[0, 1])
            kind = "update" if self.optimizer is not None else "chunk"
            raise NonFiniteLoss(
                f"{self.where}: loss is {losses[index, replica].item()} at {kind} {index + 1} of {len(losses)} "
                f"(replicate {replica})"
            )
        final_loss, final_accuracy = loss_and_accuracy(self.final_logits, self.labels)
        return PassResult(
            losses=losses, accuracies=torch.stack(self.accuracies).cpu(), final_step_loss=final_loss.cpu(),
            final_step_accuracy=final_accuracy.cpu(), optimizer_steps=self.optimizer_steps,
            steps_with_gradient=self.steps_with_gradient, steps_without_gradient=self.steps_without_gradient,
            order=self.order,
        )


def run_pass(
    model: ReplicaClassifier,
    inputs: torch.Tensor,
    labels: torch.Tensor,
    fresh_states: StateSource,
    settings: PassSettings,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    schedule_generator: torch.Generator | None = None,
    where: str = "",
    observer: Observer | None = None,
) -> PassResult:
    """An update pass when `optimizer` is given, else a frozen pass. `schedule_generator` shuffles the groups and
    their order (protocol interleaved only); `where` names the pass in error messages; `observer` sees every chunk
    (every protocol but interleaved)."""
    update = optimizer is not None
    chunks = to_chunks(inputs, settings.bptt_size)
    bookkeeping = _Pass(settings=settings, model=model, labels=labels, optimizer=optimizer, where=where)
    protocol = settings.protocol
    if not update and protocol in CARRIED:
        protocol = "per_chunk"
    minibatches = (update and protocol == "per_sequence"
                   and 0 < settings.sequences_per_update < labels.shape[1])  # else one step over every sequence
    scheduled = protocol == "interleaved" or minibatches
    if scheduled and observer is not None:
        raise ValueError(f"{where or 'run_pass'}: an observer follows one chunk after another; protocol {protocol} "
                         "updates groups of sequences in turn")
    if scheduled and schedule_generator is None:
        # Without its own generator the schedule would draw from the global one: unreproducible, and silently so.
        raise ValueError(f"{where or 'run_pass'}: protocol {protocol} needs a schedule_generator")
    with torch.set_grad_enabled(update):
        if protocol == "interleaved":
            _interleaved(chunks, labels, fresh_states, settings, schedule_generator, bookkeeping)
        elif minibatches:
            _minibatches(chunks, labels, fresh_states, settings, schedule_generator, bookkeeping)
        else:
            _in_order(inputs, chunks, labels, fresh_states, settings, protocol, bookkeeping, observer)
    return bookkeeping.result()


def _interleaved(chunks, labels, fresh_states, settings, schedule_generator, bookkeeping) -> None:
    """Protocol interleaved: groups of sequences take turns, each resuming its sequences' own stored states."""
    count = len(chunks)
    groups = interleaved_groups(labels, settings.interleave_groups, schedule_generator)
    first_states = fresh_states(labels.shape[1])
    stored = first_states.detach().clone()
    for chunk_index, group in interleaved_order(count, settings.interleave_groups, schedule_generator):
        sequences = groups[group]
        # The first chunk starts from the initial state itself, so that a learned one gets its gradient.
        state = first_states[:, :, sequences] if chunk_index == 0 else stored[:, :, sequences]
        loss, new_state = bookkeeping.chunk(
            chunks[chunk_index][:, sequences], state, sequences, chunk_index, chunk_index == count - 1
        )
        stored[:, :, sequences] = new_state.detach()
        bookkeeping.step(loss)


def _minibatches(chunks, labels, fresh_states, settings, schedule_generator, bookkeeping) -> None:
    """Protocol per_sequence with `sequences_per_update`: one step after each shuffled minibatch's whole length."""
    count, sequence_count, optimizer = len(chunks), labels.shape[1], bookkeeping.optimizer
    # One draw of initial states for the pass, as without minibatches; each minibatch starts from its share.
    first_states = fresh_states(sequence_count)
    shuffled = torch.randperm(sequence_count, generator=schedule_generator).tolist()
    size = settings.sequences_per_update
    for start in range(0, sequence_count, size):
        batch = sorted(shuffled[start:start + size])
        optimizer.zero_grad(set_to_none=True)
        state = first_states[:, :, batch]
        for chunk_index in range(count):
            if chunk_index:
                state = state.detach()
            loss, state = bookkeeping.chunk(
                chunks[chunk_index][:, batch], state, batch, chunk_index, chunk_index == count - 1
            )
            (loss.sum() / count).backward()
        bookkeeping.step()
    optimizer.zero_grad(set_to_none=True)


def _in_order(inputs, chunks, labels, fresh_states, settings, protocol, bookkeeping, observer) -> None:
    """Every sequence at once, chunk after chunk: per_chunk, stateless and burn_in (a step per chunk), per_sequence
    (one step per pass), and every frozen pass. Where each chunk's state comes from is the protocol's."""
    count, sequences, optimizer = len(chunks), labels.shape[1], bookkeeping.optimizer
    update = optimizer is not None
    if update and protocol == "per_sequence":
        optimizer.zero_grad(set_to_none=True)
    state = fresh_states(sequences)
    for chunk_index in range(count):
        if protocol == "stateless" and chunk_index:
            state = fresh_states(sequences)
        elif protocol == "burn_in" and chunk_index:
            state = _burn_in(bookkeeping.model, inputs, chunk_index * settings.bptt_size, settings.burn_in_steps,
                             fresh_states, bookkeeping)
        elif chunk_index:
            state = state.detach()  # carried, its history is not: backward stops at the chunk boundary
        entering = state
        loss, state = bookkeeping.chunk(chunks[chunk_index], state, None, chunk_index, chunk_index == count - 1)
        if observer is not None:
            observer(chunk_index, entering.detach(), bookkeeping.last_logits)
        if update and protocol == "per_sequence":
            (loss.sum() / count).backward()  # accumulated: one step at the end of the pass
        elif update:
            bookkeeping.step(loss)
    if update and protocol == "per_sequence":
        bookkeeping.step()
        optimizer.zero_grad(set_to_none=True)


def _burn_in(model, inputs, start, burn_in_steps, fresh_states, bookkeeping) -> torch.Tensor:
    """The state at step `start`, rebuilt from a fresh initial state over the steps just before it."""
    first = max(0, start - burn_in_steps)
    with torch.no_grad():
        state = fresh_states(inputs.shape[1])
        _, state = model(inputs[:, :, first:start], state, every_step=False)
    bookkeeping.steps_without_gradient += inputs.shape[1] * (start - first)
    return state
