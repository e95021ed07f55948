"""The truncated-BPTT pass: chunking, carried state, detached gradients, and a frozen pass that is only frozen."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from stages.model import ModelConfig, SequenceClassifier
from stages.tbptt import NonFiniteLoss, run_pass, to_chunks

BATCH, STEPS, FEATURES, HIDDEN, BPTT = 6, 40, 2, 12, 10


@pytest.fixture
def setup():
    torch.manual_seed(0)
    model = SequenceClassifier(ModelConfig(input_size=FEATURES, hidden_size=HIDDEN, num_layers=1, num_classes=2))
    inputs = torch.randn(BATCH, STEPS, FEATURES)
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    hidden = torch.randn(1, BATCH, HIDDEN).clamp(-1, 1)
    return model, inputs, labels, hidden


def test_chunks_cover_each_step_exactly_once_in_order():
    inputs = torch.arange(3 * 20 * 1, dtype=torch.float32).reshape(3, 20, 1)
    chunks = to_chunks(inputs, 5)
    assert chunks.shape == (4, 3, 5, 1)
    rebuilt = torch.cat(list(chunks), dim=1)  # the chunks laid end to end, per sequence
    torch.testing.assert_close(rebuilt, inputs)


@pytest.mark.parametrize("bptt", [0, 7, -5])
def test_chunk_size_must_divide_the_sequence(bptt):
    with pytest.raises(ValueError, match="bptt_size"):
        to_chunks(torch.zeros(2, 20, 1), bptt)


def test_carried_state_makes_chunked_forward_equal_one_full_forward(setup):
    model, inputs, _, hidden = setup
    with torch.no_grad():
        full, full_hidden = model.rnn(inputs, hidden)
        state, outputs = hidden, []
        for chunk in to_chunks(inputs, BPTT):
            out, state = model.rnn(chunk, state)
            outputs.append(out)
    torch.testing.assert_close(torch.cat(outputs, dim=1), full)
    torch.testing.assert_close(state, full_hidden)


def test_frozen_pass_changes_no_weight(setup):
    model, inputs, labels, hidden = setup
    before = copy.deepcopy(model.state_dict())
    result = run_pass(model, to_chunks(inputs, BPTT), labels, hidden, loss_on="last")
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, before[name]), name
    assert all(p.grad is None for p in model.parameters())
    assert len(result.chunk_losses) == STEPS // BPTT


def test_update_pass_steps_after_every_chunk(setup):
    model, inputs, labels, hidden = setup
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    before = copy.deepcopy(model.state_dict())
    result = run_pass(model, to_chunks(inputs, BPTT), labels, hidden, loss_on="last", optimizer=optimizer, grad_clip=1.0)
    assert optimizer.state[model.head.weight]["step"].item() == STEPS // BPTT
    assert not torch.equal(model.head.weight, before["head.weight"])
    assert len(result.chunk_losses) == STEPS // BPTT


@pytest.mark.parametrize("loss_on", ["last", "every"])
def test_frozen_pass_is_the_update_pass_without_updates(setup, loss_on):
    """With a learning rate of 0 the two passes compute exactly the same losses from the same states."""
    model, inputs, labels, hidden = setup
    chunks = to_chunks(inputs, BPTT)
    still = torch.optim.SGD(model.parameters(), lr=0.0)
    updating = run_pass(model, chunks, labels, hidden, loss_on=loss_on, optimizer=still, grad_clip=1.0)
    frozen = run_pass(model, chunks, labels, hidden, loss_on=loss_on)
    assert updating.chunk_losses == pytest.approx(frozen.chunk_losses, rel=1e-6)
    assert updating.final_step_loss == pytest.approx(frozen.final_step_loss, rel=1e-6)


class _RecordingSGD(torch.optim.SGD):
    """SGD with lr 0 that records, at each step, which chunks of the input received gradient in this update."""

    def __init__(self, params, chunks: torch.Tensor):
        super().__init__(params, lr=0.0)
        self.chunks, self.seen, self.previous = chunks, [], torch.zeros_like(chunks)

    def step(self, closure=None):
        new = self.chunks.grad - self.previous
        self.previous = self.chunks.grad.clone()
        self.seen.append([i for i in range(len(new)) if new[i].abs().sum() > 0])
        return super().step(closure)


def test_no_gradient_crosses_a_chunk_boundary(setup):
    model, inputs, labels, hidden = setup
    chunks = to_chunks(inputs, BPTT).requires_grad_(True)
    optimizer = _RecordingSGD(model.parameters(), chunks)
    run_pass(model, chunks, labels, hidden, loss_on="last", optimizer=optimizer, grad_clip=1.0)
    # Update k sees gradient from its own chunk only, never from an earlier one through the carried state.
    assert optimizer.seen == [[k] for k in range(STEPS // BPTT)]


def test_update_gradient_equals_the_gradient_of_its_chunk_alone(setup):
    model, inputs, labels, hidden = setup
    chunks = to_chunks(inputs, BPTT)
    # Reference: the state entering chunk 2, then the gradient of chunk 2's loss from that state as a constant.
    reference = copy.deepcopy(model)
    with torch.no_grad():
        _, state = reference.rnn(torch.cat([chunks[0], chunks[1]], dim=1), hidden)
    logits, _ = reference(chunks[2], state, every_step=False)
    torch.nn.functional.cross_entropy(logits, labels).backward()
    expected = {name: p.grad.clone() for name, p in reference.named_parameters()}

    grads = []

    class Capture(torch.optim.SGD):
        def step(self, closure=None):
            grads.append({name: p.grad.clone() for name, p in model.named_parameters()})
            return super().step(closure)

    run_pass(model, chunks, labels, hidden, loss_on="last", optimizer=Capture(model.parameters(), lr=0.0),
             grad_clip=math.inf)
    for name, grad in expected.items():
        torch.testing.assert_close(grads[2][name], grad)


def test_every_step_loss_averages_over_all_steps(setup):
    model, inputs, labels, hidden = setup
    chunks = to_chunks(inputs, BPTT)
    every = run_pass(model, chunks, labels, hidden, loss_on="every")
    with torch.no_grad():
        outputs, _ = model.rnn(inputs, hidden)
        logits = model.head(outputs[:, :BPTT])
        first_chunk = torch.nn.functional.cross_entropy(logits.reshape(-1, 2), labels.repeat_interleave(BPTT))
    assert every.chunk_losses[0] == pytest.approx(first_chunk.item(), rel=1e-5)


def test_non_finite_loss_stops_the_pass_naming_where(setup):
    model, inputs, labels, hidden = setup
    with torch.no_grad():
        model.head.bias.fill_(float("nan"))
    with pytest.raises(NonFiniteLoss, match=r"cell X, epoch 3: loss is nan at chunk 1 of 4"):
        run_pass(model, to_chunks(inputs, BPTT), labels, hidden, loss_on="last", where="cell X, epoch 3")
