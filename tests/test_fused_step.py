"""The fused-step measurement weighs the study's own step against a fused form of the same arithmetic."""

from __future__ import annotations

import json

import pytest
import torch

from stages import bench
from stages.fused_step import break_even_steps, functional_gates
from stages.rnn import GRUChunk, gru_step_gates


def _one_step_inputs(seeds=2, batch=3, features=2, hidden=5):
    generator = torch.Generator().manual_seed(0)
    def draw(*shape):
        return torch.randn(*shape, generator=generator)
    return (draw(seeds, batch, 1, features), draw(seeds, batch, hidden), draw(seeds, features, 3 * hidden),
            draw(seeds, hidden, 3 * hidden), draw(seeds, 1, 3 * hidden), draw(seeds, 1, 3 * hidden))


def test_the_step_function_from_the_chunks_prepared_shares_gives_the_chunks_first_state_to_the_bit():
    inputs, h0, w_ih, w_hh, b_ih, b_hh = _one_step_inputs()
    hidden = h0.shape[-1]
    chunk_state = GRUChunk.apply(inputs, h0, w_ih, w_hh, b_ih, b_hh)[:, :, 0]
    # The shares of the gates as GRUChunk.forward prepares them for its first step.
    gi = torch.baddbmm(b_ih, inputs[:, :, 0], w_ih)
    gi[..., : 2 * hidden] += b_hh[..., : 2 * hidden]
    gh = torch.bmm(h0, w_hh)
    reset_update, candidate, state = torch.empty_like(gi[..., : 2 * hidden]), torch.empty_like(h0), torch.empty_like(h0)
    gru_step_gates(gi, gh, b_hh[..., 2 * hidden:], h0, reset_update, candidate, state)
    assert torch.equal(state, chunk_state)


def test_the_functional_step_computes_the_same_gates_candidate_and_state():
    inputs, h0, w_ih, w_hh, b_ih, b_hh = _one_step_inputs()
    hidden = h0.shape[-1]
    gi, gh = torch.baddbmm(b_ih, inputs[:, :, 0], w_ih), torch.bmm(h0, w_hh)
    eager_gh = gh.clone()
    reset_update, candidate, state = torch.empty_like(gi[..., : 2 * hidden]), torch.empty_like(h0), torch.empty_like(h0)
    gru_step_gates(gi, eager_gh, b_hh[..., 2 * hidden:], h0, reset_update, candidate, state)
    candidate_share, rz, n, new_state = functional_gates(gi, gh, b_hh[..., 2 * hidden:], h0)
    torch.testing.assert_close(candidate_share, eager_gh[..., 2 * hidden:])
    for functional, eager in ((rz, reset_update), (n, candidate), (new_state, state)):
        torch.testing.assert_close(functional, eager)


def test_a_compilation_pays_for_itself_after_its_cost_over_the_time_saved_per_step():
    assert break_even_steps(4.0, 50e-6, 10e-6) == pytest.approx(100_000)
    assert break_even_steps(4.0, 10e-6, 10e-6) is None  # nothing saved: never
    assert break_even_steps(4.0, 10e-6, 20e-6) is None


def test_fused_step_runs_alone_in_two_fresh_processes_sharing_one_cache(tmp_path, capsys):
    out = tmp_path / "fused.json"
    # backend "eager": the plumbing without running a C++ compiler (the inductor backend is what the README times)
    assert bench.main(["--fused-step", "8", "--seeds", "2", "--scaling-batch", "4", "--fused-backend", "eager",
                       "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["rows"] == [] and "seed_scaling" not in result and "product_scaling" not in result
    (row,) = result["fused_step"]["rows"]
    assert (row["hidden"], row["seeds"], row["batch_per_seed"], row["backend"]) == (8, 2, 4, "eager")
    assert row["compile_seconds_empty_cache"] > 0 and row["compile_seconds_warm_cache"] > 0
    assert row["eager_step_seconds"] > 0 and row["fused_step_seconds"] > 0
    assert row["max_state_difference"] < 1e-5
    assert "break-even steps" in capsys.readouterr().out
