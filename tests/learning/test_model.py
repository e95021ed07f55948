"""The classifier: each replicate is PyTorch's own GRU or LSTM, in values and gradients; and the initial states."""

from __future__ import annotations

import pytest
import torch

from stages.learning.model import ModelConfig, ReplicaClassifier, initial_states
from stages.learning.rnn import SPLIT_FLOPS_PER_SEED, seed_bmm, seeds_alone

SEEDS = [3, 7]


def _config(cell: str, layers: int = 1, learned: bool = False) -> ModelConfig:
    return ModelConfig(input_size=2, hidden_size=5, num_layers=layers, num_classes=3, cell=cell, replicas=2,
                       learned_initial_state=learned)


def _states(mode: str, model: ReplicaClassifier, seed: int = 0) -> torch.Tensor:
    generators = [torch.Generator().manual_seed(seed + r) for r in range(model.config.replicas)]
    return initial_states(mode, model=model, batch=64, generators=generators, device=torch.device("cpu"))


@pytest.mark.parametrize("cell", ["GRU", "LSTM"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("every_step", [False, True])
def test_each_replicate_equals_pytorchs_module_in_values_and_gradients(cell, layers, every_step):
    torch.set_default_dtype(torch.float64)  # compare the maths, not float32 rounding
    try:
        config = _config(cell, layers)
        model = ReplicaClassifier(config, SEEDS)
        inputs = torch.randn(2, 4, 6, 2, requires_grad=True)
        state = torch.randn(2, layers, 4, config.state_size, requires_grad=True)
        logits, new_state = model(inputs, state, every_step=every_step)
        objective = (logits ** 2).sum() + (new_state ** 3).sum()  # reaches every output and the final state
        ours = torch.autograd.grad(objective, [inputs, state, *model.parameters()])
        grads = dict(zip(["inputs", "state", *[n for n, _ in model.named_parameters()]], ours))
        for replica, seed in enumerate(SEEDS):
            rnn, head = ReplicaClassifier.reference_network(config, seed)
            rnn, head = rnn.double(), head.double()
            x = inputs[replica].detach().clone().requires_grad_(True)
            s = state[replica].detach().clone().requires_grad_(True)
            if cell == "GRU":
                outputs, final = rnn(x, s)
            else:
                outputs, (h, c) = rnn(x, (s[..., :5], s[..., 5:]))
                final = torch.cat([h, c], dim=-1)
            reference_logits = head(outputs if every_step else outputs[:, -1])
            torch.testing.assert_close(logits[replica], reference_logits)
            torch.testing.assert_close(new_state[replica], final)
            reference_objective = (reference_logits ** 2).sum() + (final ** 3).sum()
            named = dict(rnn.named_parameters())
            reference = torch.autograd.grad(reference_objective, [x, s, *named.values(), head.weight, head.bias])
            reference = dict(zip(["inputs", "state", *named, "head_weight", "head_bias"], reference))
            torch.testing.assert_close(grads["inputs"][replica], reference["inputs"])
            torch.testing.assert_close(grads["state"][replica], reference["state"])
            for name, grad in reference.items():
                if name.startswith(("weight_", "head_weight")):
                    torch.testing.assert_close(grads[name][replica], grad.T, msg=name)
                elif name.startswith(("bias_", "head_bias")):
                    torch.testing.assert_close(grads[name][replica, 0], grad, msg=name)
    finally:
        torch.set_default_dtype(torch.float32)


@pytest.mark.parametrize(("seeds", "threads", "alone"), [(3, 2, 1), (5, 2, 0), (4, 2, 0), (16, 2, 0), (1, 2, 0),
                                                       (2, 2, 0), (5, 4, 1), (3, 1, 0)])
def test_only_seeds_that_leave_a_quarter_of_the_threads_idle_are_computed_alone(seeds, threads, alone):
    assert seeds_alone(seeds, threads, SPLIT_FLOPS_PER_SEED) == alone
    assert seeds_alone(seeds, threads, SPLIT_FLOPS_PER_SEED / 2) == 0  # small products: one call is cheaper


@pytest.mark.parametrize("seeds", [1, 2, 3, 5, 16])
@pytest.mark.parametrize("threads", [1, 2, 4])
def test_seed_products_are_torchs_batched_product_to_the_bit_however_they_are_shared_out(seeds, threads):
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        generator = torch.Generator().manual_seed(seeds)
        states = torch.randn(seeds, 32, 128, generator=generator)  # 3.1 MFLOP per seed: over the split's floor
        weights = torch.randn(seeds, 128, 384, generator=generator)
        assert torch.equal(seed_bmm(states, weights), torch.bmm(states, weights))
        out = torch.empty(seeds, 32, 384)
        assert seed_bmm(states, weights, out=out) is out and torch.equal(out, torch.bmm(states, weights))
        # the weight gradient's product: a transposed first operand
        gates = torch.randn(seeds, 32, 384, generator=generator)
        transposed = states.transpose(1, 2)
        assert torch.equal(seed_bmm(transposed, gates), torch.bmm(transposed, gates))
    finally:
        torch.set_num_threads(previous)


def test_replicates_start_from_pytorchs_initial_weights_for_their_seed():
    config = _config("GRU")
    model = ReplicaClassifier(config, SEEDS)
    for replica, seed in enumerate(SEEDS):
        rnn, head = ReplicaClassifier.reference_network(config, seed)
        torch.testing.assert_close(model.weight_hh_l0[replica], rnn.weight_hh_l0.T)
        torch.testing.assert_close(model.head_weight[replica], head.weight.T)
    assert not torch.equal(model.weight_hh_l0[0], model.weight_hh_l0[1])  # replicates share nothing


def test_zero_states_are_zero():
    states = _states("Zeros", ReplicaClassifier(_config("GRU", 2), SEEDS))
    assert states.shape == (2, 2, 64, 5) and not states.any()


def test_random_states_are_clipped_normal_draws_one_per_sequence():
    states = _states("Random", ReplicaClassifier(_config("GRU", 2), SEEDS))
    assert states.shape == (2, 2, 64, 5)
    assert states.min() >= -1 and states.max() <= 1
    # N(0, 1) clipped at 1: about 32% of values sit exactly on the clip bounds.
    on_bounds = (states.abs() == 1).float().mean().item()
    assert 0.25 < on_bounds < 0.40
    assert len({tuple(row.tolist()) for row in states[0, 0]}) == 64  # every sequence gets its own state


def test_lstm_states_hold_both_hidden_and_cell_state():
    assert _states("Random", ReplicaClassifier(_config("LSTM"), SEEDS)).shape == (2, 1, 64, 10)


def test_random_states_are_seeded_per_replicate():
    model = ReplicaClassifier(_config("GRU"), SEEDS)
    torch.testing.assert_close(_states("Random", model, seed=3), _states("Random", model, seed=3))
    assert not torch.equal(_states("Random", model, seed=3), _states("Random", model, seed=4))
    # Replicate 1 of seed 3 draws what replicate 0 of seed 4 draws: each replicate has its own stream.
    torch.testing.assert_close(_states("Random", model, seed=3)[1], _states("Random", model, seed=4)[0])


def test_learned_state_is_one_trainable_vector_per_layer_shared_by_all_sequences():
    model = ReplicaClassifier(_config("GRU", 2, learned=True), SEEDS)
    states = _states("Learned", model)
    assert states.shape == (2, 2, 64, 5) and states.requires_grad
    assert not states.any()  # it starts at zero
    assert model.initial_state.shape == (2, 2, 1, 5)


def test_learned_states_need_a_model_that_has_them():
    with pytest.raises(ValueError, match="Learned"):
        _states("Learned", ReplicaClassifier(_config("GRU"), SEEDS))


def test_unknown_modes_are_refused():
    model = ReplicaClassifier(_config("GRU"), SEEDS)
    with pytest.raises(ValueError, match="initial_state_type: unknown mode 'Ones'"):
        _states("Ones", model)
    with pytest.raises(ValueError, match="model.cell: unknown cell 'RNN'"):
        ReplicaClassifier(_config("RNN"), SEEDS)


def test_head_at_last_step_equals_head_at_every_step_sliced():
    model = ReplicaClassifier(_config("GRU", 2), SEEDS)
    chunk, state = torch.randn(2, 4, 7, 2), torch.zeros(2, 2, 4, 5)
    last, last_state = model(chunk, state, every_step=False)
    every, every_state = model(chunk, state, every_step=True)
    assert every.shape == (2, 4, 7, 3) and last.shape == (2, 4, 3)
    torch.testing.assert_close(last, every[:, :, -1])
    torch.testing.assert_close(last_state, every_state)
