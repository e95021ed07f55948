"""The truncated-BPTT pass and its protocols: each protocol's defining property, tested on its own."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from tiny_passes import (
    BATCH,
    BPTT,
    CHUNKS,
    FEATURES,
    HIDDEN,
    REPLICAS,
    STEPS,
    _model,
    _run,
    _still,
    random_source,
    zeros_source,
)

from stages.learning.model import initial_states
from stages.learning.tbptt import NonFiniteLoss, PassSettings, clip_per_replica, run_pass, to_chunks


@pytest.fixture
def setup():
    torch.manual_seed(0)
    model = _model()
    inputs = torch.randn(REPLICAS, BATCH, STEPS, FEATURES)
    labels = torch.tensor([[0, 0, 0, 0, 1, 1, 1, 1]] * REPLICAS)
    return model, inputs, labels


def _reference_losses(model, inputs, labels, start: int, stop: int, state=None) -> torch.Tensor:
    """Per-replica loss at step `stop` after feeding steps [start, stop) from `state` (zeros by default)."""
    with torch.no_grad():
        state = torch.zeros(REPLICAS, 1, inputs.shape[1], HIDDEN) if state is None else state
        logits, _ = model(inputs[:, :, start:stop], state, every_step=False)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 2), labels.reshape(-1), reduction="none")
    return loss.view(REPLICAS, -1).mean(dim=1)


def test_chunks_cover_each_step_exactly_once_in_order():
    inputs = torch.arange(2 * 3 * 20, dtype=torch.float32).reshape(2, 3, 20, 1)
    chunks = to_chunks(inputs, 5)
    assert chunks.shape == (4, 2, 3, 5, 1)
    torch.testing.assert_close(torch.cat(list(chunks), dim=2), inputs)


@pytest.mark.parametrize(("field", "value"), [
    ("protocol", "per_epoch"), ("bptt_size", 0), ("bptt_size", -5), ("loss_on", "first"), ("grad_clip", 0.0),
    ("burn_in_steps", -1), ("sequences_per_update", -1),
])
def test_pass_settings_refuse_a_bad_value_naming_the_field(field, value):
    fields = {"protocol": "per_chunk", "bptt_size": BPTT, "loss_on": "last", field: value}
    with pytest.raises(ValueError, match=f"^{field}: "):
        PassSettings(**fields)


def test_interleaved_settings_need_at_least_two_groups():
    with pytest.raises(ValueError, match="^interleave_groups: "):
        PassSettings(protocol="interleaved", bptt_size=BPTT, loss_on="last", interleave_groups=1)
    PassSettings(protocol="per_chunk", bptt_size=BPTT, loss_on="last")  # groups matter to interleaved only


def test_pass_settings_are_frozen():
    settings = PassSettings(protocol="per_chunk", bptt_size=BPTT, loss_on="last")
    with pytest.raises(AttributeError):
        settings.bptt_size = 5


@pytest.mark.parametrize("bptt", [0, 7, -5])
def test_chunk_size_must_divide_the_sequence(bptt):
    with pytest.raises(ValueError, match="bptt_size"):
        to_chunks(torch.zeros(1, 2, 20, 1), bptt)


def test_carried_state_makes_chunked_forward_equal_one_full_forward(setup):
    model, inputs, _ = setup
    state = torch.randn(REPLICAS, 1, BATCH, HIDDEN)
    with torch.no_grad():
        full, full_state = model(inputs, state, every_step=True)
        carried, pieces = state, []
        for chunk in to_chunks(inputs, BPTT):
            logits, carried = model(chunk, carried, every_step=True)
            pieces.append(logits)
    torch.testing.assert_close(torch.cat(pieces, dim=2), full)
    torch.testing.assert_close(carried, full_state)


def test_frozen_pass_changes_no_weight(setup):
    model, inputs, labels = setup
    before = copy.deepcopy(model.state_dict())
    result = _run(model, inputs, labels, random_source(model))
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, before[name]), name
    assert all(p.grad is None for p in model.parameters())
    assert result.losses.shape == (CHUNKS, REPLICAS) and result.optimizer_steps == 0


def test_per_chunk_steps_after_every_chunk(setup):
    model, inputs, labels = setup
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    before = model.head_weight.detach().clone()
    result = _run(model, inputs, labels, random_source(model), optimizer=optimizer)
    assert optimizer.state[model.head_weight]["step"].item() == CHUNKS == result.optimizer_steps
    assert not torch.equal(model.head_weight, before)


@pytest.mark.parametrize("loss_on", ["last", "every"])
def test_frozen_pass_is_the_update_pass_without_updates(setup, loss_on):
    """With a learning rate of 0 the two passes compute exactly the same losses from the same states."""
    model, inputs, labels = setup
    updating = _run(model, inputs, labels, random_source(model), optimizer=_still(model), loss_on=loss_on)
    frozen = _run(model, inputs, labels, random_source(model), loss_on=loss_on)
    torch.testing.assert_close(updating.losses, frozen.losses)
    torch.testing.assert_close(updating.final_step_loss, frozen.final_step_loss)


def test_no_gradient_crosses_a_chunk_boundary(setup):
    model, inputs, labels = setup
    inputs = inputs.clone().requires_grad_(True)
    seen = []

    class Recording(torch.optim.SGD):
        previous = torch.zeros_like(inputs)

        def step(self, closure=None):
            new = inputs.grad - Recording.previous
            Recording.previous = inputs.grad.clone()
            steps = new.abs().sum(dim=(0, 1, 3)).nonzero().flatten()
            seen.append(sorted({int(s) // BPTT for s in steps}))
            return super().step(closure)

    _run(model, inputs, labels, random_source(model), optimizer=Recording(model.parameters(), lr=0.0))
    # Update k sees gradient from its own chunk only, never from an earlier one through the carried state.
    assert seen == [[k] for k in range(CHUNKS)]


def test_per_sequence_makes_no_optimizer_step_inside_a_pass(setup):
    model, inputs, labels = setup
    steps = []

    class Counting(torch.optim.Adam):
        def step(self, closure=None):
            steps.append(1)
            return super().step(closure)

    before = copy.deepcopy(model)
    result = _run(model, inputs, labels, random_source(model), "per_sequence",
                  optimizer=Counting(model.parameters(), lr=1e-2))
    assert len(steps) == 1 == result.optimizer_steps
    # Every chunk's loss was computed with the weights the pass started with.
    frozen = _run(before, inputs, labels, random_source(before))
    torch.testing.assert_close(result.losses, frozen.losses)
    assert not torch.equal(model.head_weight, before.head_weight)  # the one step did move the weights


def test_per_sequence_gradient_is_the_mean_of_the_chunk_gradients(setup):
    model, inputs, labels = setup
    captured = {}

    class Capture(torch.optim.SGD):
        def step(self, closure=None):
            captured["grad"] = model.head_weight.grad.clone()
            return super().step(closure)

    _run(model, inputs, labels, zeros_source(model), "per_sequence", optimizer=Capture(model.parameters(), lr=0.0),
         grad_clip=math.inf)
    per_chunk = []

    class Each(torch.optim.SGD):
        def step(self, closure=None):
            per_chunk.append(model.head_weight.grad.clone())
            return super().step(closure)

    _run(model, inputs, labels, zeros_source(model), optimizer=Each(model.parameters(), lr=0.0), grad_clip=math.inf)
    torch.testing.assert_close(captured["grad"], torch.stack(per_chunk).mean(dim=0))


@pytest.mark.parametrize("size", [1, 3, 4])
def test_per_sequence_minibatches_step_once_per_minibatch_and_feed_each_sequence_whole_once(setup, size):
    model, inputs, labels = setup
    result = _run(model, inputs, labels, zeros_source(model), "per_sequence",
                  optimizer=torch.optim.Adam(model.parameters(), lr=1e-2), sequences_per_update=size)
    assert result.optimizer_steps == math.ceil(BATCH / size)
    # Each minibatch is fed from its first chunk to its last before the next one starts.
    batches = [sequences for chunk, sequences in result.order if chunk == 0]
    assert sorted(i for batch in batches for i in batch) == list(range(BATCH))
    assert [chunk for chunk, _ in result.order] == list(range(CHUNKS)) * len(batches)
    assert all(len(batch) <= size for batch in batches)


def test_per_sequence_minibatch_gradient_averages_its_own_sequences_whole_length(setup):
    model, inputs, labels = setup
    grads, batches = [], []

    class Capture(torch.optim.SGD):
        def step(self, closure=None):
            grads.append(model.head_weight.grad.clone())
            return super().step(closure)

    result = _run(model, inputs, labels, zeros_source(model), "per_sequence",
                  optimizer=Capture(model.parameters(), lr=0.0), grad_clip=math.inf, sequences_per_update=4)
    batches = [sequences for chunk, sequences in result.order if chunk == 0]
    for grad, batch in zip(grads, batches, strict=True):
        alone = _model()
        alone.load_state_dict(model.state_dict())
        whole = {}

        class Whole(torch.optim.SGD):
            def step(self, closure=None):
                whole["grad"] = alone.head_weight.grad.clone()
                return super().step(closure)

        # The same minibatch as a pass of its own, one step over every sequence: the same gradient.
        _run(alone, inputs[:, batch], labels[:, batch], zeros_source(alone), "per_sequence",
             optimizer=Whole(alone.parameters(), lr=0.0), grad_clip=math.inf)
        torch.testing.assert_close(grad, whole["grad"])


def test_per_sequence_minibatches_differ_between_passes_and_need_a_schedule(setup):
    model, inputs, labels = setup
    schedule = torch.Generator().manual_seed(0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    orders = [[s for c, s in _run(model, inputs, labels, zeros_source(model), "per_sequence", optimizer=optimizer,
                                  schedule_generator=schedule, sequences_per_update=2).order if c == 0]
              for _ in range(2)]
    assert orders[0] != orders[1]
    settings = PassSettings(protocol="per_sequence", bptt_size=BPTT, loss_on="last", sequences_per_update=2)
    with pytest.raises(ValueError, match="schedule_generator"):
        run_pass(model, inputs, labels, zeros_source(model), settings, optimizer=optimizer)


def test_stateless_carries_nothing_between_chunks(setup):
    model, inputs, labels = setup
    result = _run(model, inputs, labels, zeros_source(model), "stateless", optimizer=_still(model))
    for chunk in range(CHUNKS):
        alone = _reference_losses(model, inputs, labels, chunk * BPTT, (chunk + 1) * BPTT)
        torch.testing.assert_close(result.losses[chunk], alone)


def test_stateless_draws_a_new_random_state_for_every_chunk(setup):
    model, inputs, labels = setup
    drawn = []
    source = random_source(model)

    def recording(batch):
        drawn.append(source(batch))
        return drawn[-1]

    _run(model, inputs, labels, recording, "stateless")
    assert len(drawn) == CHUNKS
    assert all(not torch.equal(drawn[0], later) for later in drawn[1:])


def test_interleaved_never_lets_consecutive_updates_share_a_sequence(setup):
    model, inputs, labels = setup
    result = _run(model, inputs, labels, random_source(model), "interleaved", optimizer=_still(model),
                  interleave_groups=4)
    assert result.optimizer_steps == 4 * CHUNKS
    for (_, first), (_, second) in zip(result.order, result.order[1:]):
        assert not set(first) & set(second)
    # Every sequence's chunks are visited once each, in order.
    for sequence in range(BATCH):
        visits = [chunk for chunk, members in result.order if sequence in members]
        assert visits == list(range(CHUNKS))
    # Each group holds both classes equally.
    for _, members in result.order:
        assert sorted(labels[0, members].tolist()) == [0, 1]


def test_interleaved_resumes_each_sequence_from_its_own_carried_state(setup):
    """With a learning rate of 0, each update's loss equals that of its sequences' chunk in one carried pass."""
    model, inputs, labels = setup
    result = _run(model, inputs, labels, zeros_source(model), "interleaved", optimizer=_still(model),
                  interleave_groups=2)
    for (chunk, members), loss in zip(result.order, result.losses):
        expected = _reference_losses(model, inputs[:, members], labels[:, members], 0, (chunk + 1) * BPTT)
        torch.testing.assert_close(loss, expected)


def test_interleaved_schedules_differ_between_epochs(setup):
    model, inputs, labels = setup
    generator = torch.Generator().manual_seed(0)
    first = _run(model, inputs, labels, zeros_source(model), "interleaved", schedule_generator=generator,
                 optimizer=_still(model))
    second = _run(model, inputs, labels, zeros_source(model), "interleaved", schedule_generator=generator,
                  optimizer=_still(model))
    assert first.order != second.order


def test_burn_in_rebuilds_each_state_and_carries_nothing_between_updates(setup):
    model, inputs, labels = setup
    result = _run(model, inputs, labels, zeros_source(model), "burn_in", optimizer=_still(model), burn_in_steps=15)
    for chunk in range(CHUNKS):
        start = max(0, chunk * BPTT - 15)
        expected = _reference_losses(model, inputs, labels, start, (chunk + 1) * BPTT)
        torch.testing.assert_close(result.losses[chunk], expected)
    # The burn-in steps are fed without a graph: 15 steps before every chunk but the first two (10 before chunk 1).
    assert result.steps_without_gradient == BATCH * (10 + 15 * (CHUNKS - 2))
    assert result.steps_with_gradient == BATCH * STEPS


def test_burn_in_gives_no_gradient_to_the_replayed_steps(setup):
    model, inputs, labels = setup
    inputs = inputs.clone().requires_grad_(True)
    _run(model, inputs, labels, zeros_source(model), "burn_in", optimizer=_still(model), burn_in_steps=15)
    # Only the chunks themselves carry gradient; each step belongs to exactly one chunk's graph.
    assert inputs.grad is not None and (inputs.grad.abs().sum(dim=(0, 1, 3)) > 0).all()


@pytest.mark.parametrize(("protocol", "settings"), [("per_chunk", {}), ("per_sequence", {"sequences_per_update": 3})],
                         ids=["per_chunk", "per_sequence minibatches"])
def test_learned_initial_state_gets_gradient_and_moves(setup, protocol, settings):
    _, inputs, labels = setup
    model = _model(learned=True)
    source = lambda batch: initial_states("Learned", model=model, batch=batch, generators=[],  # noqa: E731
                                          device=torch.device("cpu"))
    before = model.initial_state.detach().clone()
    _run(model, inputs, labels, source, protocol, optimizer=torch.optim.Adam(model.parameters(), lr=1e-2),
         **settings)
    assert not torch.equal(model.initial_state, before)
    assert model.initial_state.shape == (REPLICAS, 1, 1, HIDDEN)  # one vector per layer, shared by all sequences


def test_a_replicate_trains_the_same_alone_or_beside_others(setup):
    _, inputs, labels = setup
    together = _model(seeds=[10, 11])
    alone = _model(replicas=1, seeds=[11])
    result_together = _run(together, inputs, labels, zeros_source(together),
                           optimizer=torch.optim.Adam(together.parameters(), lr=1e-2))
    result_alone = _run(alone, inputs[1:], labels[1:], zeros_source(alone),
                        optimizer=torch.optim.Adam(alone.parameters(), lr=1e-2))
    torch.testing.assert_close(result_together.losses[:, 1:], result_alone.losses, rtol=1e-4, atol=1e-5)


def test_gradient_clipping_is_per_replicate():
    model = _model()
    for parameter in model.parameters():
        parameter.grad = torch.ones_like(parameter)
    model.head_weight.grad[0] *= 1000  # replicate 0's gradient is huge; replicate 1's is not
    norms_before = torch.stack([sum(p.grad[r].pow(2).sum() for p in model.parameters()).sqrt() for r in range(2)])
    clip_per_replica(model, max_norm=1000.0)
    norms_after = torch.stack([sum(p.grad[r].pow(2).sum() for p in model.parameters()).sqrt() for r in range(2)])
    assert norms_after[0] == pytest.approx(1000.0, rel=1e-4)
    assert norms_after[1] == pytest.approx(norms_before[1].item())  # untouched by its neighbour


def test_every_step_loss_averages_over_all_steps(setup):
    model, inputs, labels = setup
    every = _run(model, inputs, labels, zeros_source(model), loss_on="every")
    with torch.no_grad():
        logits, _ = model(inputs[:, :, :BPTT], torch.zeros(REPLICAS, 1, BATCH, HIDDEN), every_step=True)
        expected = torch.nn.functional.cross_entropy(
            logits.reshape(-1, 2), labels[:, :, None].expand(-1, -1, BPTT).reshape(-1), reduction="none"
        ).view(REPLICAS, -1).mean(dim=1)
    torch.testing.assert_close(every.losses[0], expected)


def test_non_finite_loss_stops_the_pass_naming_where(setup):
    model, inputs, labels = setup
    with torch.no_grad():
        model.head_bias[1].fill_(float("nan"))
    with pytest.raises(NonFiniteLoss, match=r"cell X, epoch 3: loss is nan at chunk 1 of 4 \(replicate 1\)"):
        _run(model, inputs, labels, zeros_source(model), where="cell X, epoch 3")
