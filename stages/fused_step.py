"""One GRU step's element-wise work, as `stages/rnn.py` runs it and as `torch.compile` fuses it into one kernel.

After each step's product (the states by the recurrent weights), `GRUChunk.forward` calls
`stages.rnn.gru_step_gates`: five element-wise calls, the candidate's hidden bias, the reset and update gates (add,
sigmoid), the candidate (addcmul, tanh) and the new state (lerp). At small sizes each call costs more in dispatch
than in arithmetic, so one fused kernel could win; but `torch.compile` pays a compilation in every process that uses
it, and this pipeline starts a process per stage. `python -m stages.bench --fused-step 64 256 512` measures both
sides: the compile time with an empty and with a warm cache (each in a fresh process), the time per step both ways,
the steps a process must run before the warm compile pays for itself, and how far the fused result is from the
study's (the pipeline's results are bit-exact today).
"""

from __future__ import annotations

import time

import torch

from stages.floor import seconds_per_call
from stages.rnn import gru_step_gates


def functional_gates(gi_t: torch.Tensor, gh_t: torch.Tensor, candidate_bias: torch.Tensor,
                     h: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The same arithmetic without writes into given tensors, the form `torch.compile` fuses: returns the state's
    share with the candidate's bias, the gates, the candidate and the new state (what the chunk keeps)."""
    hidden = h.shape[-1]
    candidate_share = gh_t[..., 2 * hidden:] + candidate_bias
    rz = torch.sigmoid(gi_t[..., : 2 * hidden] + gh_t[..., : 2 * hidden])
    n = torch.tanh(gi_t[..., 2 * hidden:] + rz[..., :hidden] * candidate_share)
    return candidate_share, rz, n, torch.lerp(n, h, rz[..., hidden:])


def measure_fused_step(hidden: int, seeds: int, batch: int, *, backend: str = "inductor",
                       min_seconds: float = 0.3) -> dict:
    """In this process: compile `functional_gates` for one shape, then time it against the chunk's own step,
    `gru_step_gates` (alternating the two three times; the fastest of each counts). Returns seconds and the
    largest difference of the new state."""
    generator = torch.Generator().manual_seed(0)
    gi = torch.randn(seeds, batch, 3 * hidden, generator=generator)
    gh = torch.randn(seeds, batch, 3 * hidden, generator=generator)
    bias = torch.randn(seeds, 1, hidden, generator=generator)
    h = torch.rand(seeds, batch, hidden, generator=generator) * 2 - 1
    reset_update, candidate, h_next = (torch.empty(seeds, batch, width) for width in (2 * hidden, hidden, hidden))

    started = time.perf_counter()
    fused = torch.compile(functional_gates, backend=backend, dynamic=False)
    fused_state = fused(gi, gh, bias, h)[-1]
    compile_seconds = time.perf_counter() - started

    eager_gh = gh.clone()
    gru_step_gates(gi, eager_gh, bias, h, reset_update, candidate, h_next)
    difference = (fused_state - h_next).abs().max().item()
    # gru_step_gates adds the candidate's bias into its gh_t at every call, as the chunk does once per step: the timed
    # calls work on a copy, whose candidate share drifts (tanh saturates; the arithmetic per call is the same).
    scratch = gh.clone()
    eager, compiled = [], []
    for _ in range(3):
        eager.append(seconds_per_call(lambda: gru_step_gates(gi, scratch, bias, h, reset_update, candidate, h_next),
                                      min_seconds=min_seconds))
        compiled.append(seconds_per_call(lambda: fused(gi, gh, bias, h), min_seconds=min_seconds))
    return {"hidden": hidden, "seeds": seeds, "batch_per_seed": batch, "backend": backend,
            "compile_seconds": compile_seconds,
            "eager_step_seconds": min(eager),
            "fused_step_seconds": min(compiled),
            "max_state_difference": difference, "bit_identical": difference == 0.0}


def break_even_steps(compile_seconds: float, eager_step_seconds: float, fused_step_seconds: float) -> float | None:
    """Steps a process must run before a compilation of `compile_seconds` pays for itself (None: it never does)."""
    saved = eager_step_seconds - fused_step_seconds
    return compile_seconds / saved if saved > 0 else None
