"""One pass of truncated BPTT over a set of long sequences, with or without weight updates.

A pass starts every sequence from its initial hidden state and feeds the sequences in consecutive chunks of
`bptt_size` steps. The hidden state is carried from chunk to chunk but detached, so no gradient crosses a chunk
boundary. The loss is the cross-entropy against the sequence's label at the last step of each chunk (the write-up)
or at every step. An update pass steps the optimizer after every chunk; a frozen pass is the same computation with
no backward pass and no step, so the two differ in the weight updates only.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from stages.model import SequenceClassifier


class NonFiniteLoss(RuntimeError):
    """The loss became NaN or infinite; the message names where."""


@dataclass(frozen=True)
class PassResult:
    chunk_losses: list[float]  # one per chunk: in an update pass, the loss each update stepped on
    chunk_accuracies: list[float]
    final_step_loss: float  # at the last step of each sequence, averaged over sequences
    final_step_accuracy: float
    final_hidden: torch.Tensor  # (L, B, H) state after the last step

    @property
    def mean_loss(self) -> float:
        return sum(self.chunk_losses) / len(self.chunk_losses)

    @property
    def mean_accuracy(self) -> float:
        return sum(self.chunk_accuracies) / len(self.chunk_accuracies)


def to_chunks(inputs: torch.Tensor, bptt_size: int) -> torch.Tensor:
    """(B, T, I) -> (T // bptt_size, B, bptt_size, I), contiguous, so each chunk is one cheap index."""
    batch, steps, features = inputs.shape
    if bptt_size <= 0 or steps % bptt_size:
        raise ValueError(f"bptt_size: {bptt_size} must be positive and divide the sequence length {steps}")
    chunks = inputs.reshape(batch, steps // bptt_size, bptt_size, features).transpose(0, 1)
    return chunks.contiguous()


def _loss_and_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if logits.dim() == 3:  # every step: (B, T, C) against the sequence label repeated over T
        labels = labels[:, None].expand(logits.shape[:2])
        logits, labels = logits.reshape(-1, logits.shape[-1]), labels.reshape(-1)
    loss = F.cross_entropy(logits, labels)
    accuracy = (logits.argmax(dim=-1) == labels).float().mean()
    return loss, accuracy


def run_pass(
    model: SequenceClassifier,
    chunks: torch.Tensor,
    labels: torch.Tensor,
    initial_hidden: torch.Tensor,
    *,
    loss_on: str,
    optimizer: torch.optim.Optimizer | None = None,
    grad_clip: float | None = None,
    where: str = "",
) -> PassResult:
    """An update pass when `optimizer` is given, else a frozen pass. `where` names the pass in error messages."""
    every_step = loss_on == "every"
    update = optimizer is not None
    losses, accuracies = [], []
    hidden = initial_hidden
    with torch.set_grad_enabled(update):
        for chunk in chunks:
            # Detach: the state is carried, its history is not, so backward stops at the chunk boundary.
            hidden = hidden.detach()
            logits, hidden = model(chunk, hidden, every_step=every_step)
            loss, accuracy = _loss_and_accuracy(logits, labels)
            if update:
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
                optimizer.step()
            # Kept as tensors: one host sync per pass instead of one per chunk.
            losses.append(loss.detach())
            accuracies.append(accuracy)
    loss_values = torch.stack(losses).cpu()
    bad = (~torch.isfinite(loss_values)).nonzero()
    if len(bad):
        index = int(bad[0, 0])
        kind = "update" if update else "chunk"
        raise NonFiniteLoss(f"{where}: loss is {loss_values[index].item()} at {kind} {index + 1} of {len(chunks)}")
    final_logits = logits[:, -1] if every_step else logits
    final_loss, final_accuracy = _loss_and_accuracy(final_logits.detach(), labels)
    return PassResult(
        chunk_losses=loss_values.tolist(),
        chunk_accuracies=torch.stack(accuracies).cpu().tolist(),
        final_step_loss=float(final_loss),
        final_step_accuracy=float(final_accuracy),
        final_hidden=hidden.detach(),
    )
