"""Which library computes the recurrent step's product, and how fast the other one would be.

Every product of the study's trainer goes through `torch.bmm` (`stages.rnn.seed_bmm`), which PyTorch's CPU build
hands to MKL. MKL picks its code path by the processor's vendor as well as its features: on this project's AMD hosts
(AVX-512 capable) it reports its generic "Intel(R) Architecture processors" path, and its large products run at
the AVX2 rate (32 FLOP per cycle and core). oneDNN, which ships in the same PyTorch build, picks by features only and
runs AVX-512 kernels there. So the ceiling the speed issue measures against, the step product alone, is itself a
library's choice. `python -m stages.bench --product-library 64 256 512` measures both sides:

- the code paths both libraries report (`MKL_VERBOSE`, `ONEDNN_VERBOSE`), from a fresh process;
- a chunk's chain of step products (each step's states from the last step's output), timed with the trainer's
  `seed_bmm` and with oneDNN's matrix product, one call per seed on the chunk's weights transposed once (as a
  trainer would have to, per chunk, since the weights change at every update);
- how far apart the two chains end (the pipeline's results are bit-exact today, so any switch changes them).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable

import torch

from stages.floor import seconds_per_call
from stages.rnn import seed_bmm

# One product through each library, in a fresh process with both libraries' verbose modes on.
_PROBE = ("import torch; a = torch.randn(16, 64); w = torch.randn(192, 64); "
          "torch.ops.mkldnn._linear_pointwise(a, w, None, 'none', [], ''); torch.mm(a, w.t())")


def code_paths() -> dict:
    """The code path MKL reports, and the ISA and implementation oneDNN reports, for a small product here."""
    environment = {**os.environ, "MKL_VERBOSE": "1", "ONEDNN_VERBOSE": "1"}
    output = subprocess.run([sys.executable, "-c", _PROBE], check=True, capture_output=True, text=True,
                            env=environment).stdout
    mkl = re.search(r"for Intel\(R\) 64 architecture (.+?), Lnx", output)
    isa = re.search(r"onednn_verbose,.*,info,cpu,isa:(.+)", output)
    implementation = re.search(r"onednn_verbose,.*,exec,cpu,inner_product,([^,]+),", output)
    return {
        "mkl_code_path": mkl.group(1) if mkl else None,
        "onednn_isa": isa.group(1).strip() if isa else None,
        "onednn_implementation": implementation.group(1) if implementation else None,
        "aten_cpu_capability": torch.backends.cpu.get_cpu_capability(),
    }


def chunk_inputs(seeds: int, batch: int, hidden: int,
                 generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """States (S, B, H) in [-1, 1] and recurrent weights (S, H, 3H) scaled like a GRU's initial ones (uniform in
    +-1/sqrt(H)), so that a chain of step products stays away from saturation."""
    states = torch.rand(seeds, batch, hidden, generator=generator) * 2 - 1
    weights = (torch.rand(seeds, hidden, 3 * hidden, generator=generator) * 2 - 1) / hidden ** 0.5
    return states, weights


def _chain(states: torch.Tensor, steps: int, product: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """`steps` step products, each fed the last one's output (its first H columns, squashed by tanh)."""
    hidden = states.shape[-1]
    for _ in range(steps):
        states = torch.tanh(product(states)[..., :hidden])
    return states


def mkl_step_products(states: torch.Tensor, weights: torch.Tensor, steps: int) -> torch.Tensor:
    """A chain of `steps` recurrent step products as the trainer runs them (`seed_bmm`)."""
    out = states.new_empty(states.shape[0], states.shape[1], weights.shape[2])
    return _chain(states, steps, lambda x: seed_bmm(x, weights, out=out))


def onednn_step_products(states: torch.Tensor, weights: torch.Tensor, steps: int) -> torch.Tensor:
    """The same chain with oneDNN's product: one call per seed per step."""
    linear = torch.ops.mkldnn._linear_pointwise
    transposed = weights.transpose(1, 2).contiguous()  # (S, 3H, H): oneDNN's weight layout, once per chunk
    out = states.new_empty(states.shape[0], states.shape[1], weights.shape[2])

    def product(x: torch.Tensor) -> torch.Tensor:
        for seed in range(x.shape[0]):
            out[seed] = linear(x[seed], transposed[seed], None, "none", [], "")
        return out

    return _chain(states, steps, product)


def measure_chunk_products(hidden: int, seeds: int, batch: int, steps: int, *, min_seconds: float = 0.3) -> dict:
    """In this process: a chunk of `steps` step products at (seeds, batch, hidden) x (seeds, hidden, 3 hidden), with
    each library, alternated three times (the fastest of each counts). Returns seconds per chunk, the rate and the
    largest difference of the chain's last states."""
    states, weights = chunk_inputs(seeds, batch, hidden, torch.Generator().manual_seed(0))
    difference = mkl_step_products(states, weights, steps) - onednn_step_products(states, weights, steps)
    mkl, onednn = [], []
    for _ in range(3):
        mkl.append(seconds_per_call(lambda: mkl_step_products(states, weights, steps), min_seconds=min_seconds))
        onednn.append(seconds_per_call(lambda: onednn_step_products(states, weights, steps), min_seconds=min_seconds))
    flops = 2.0 * seeds * batch * hidden * 3 * hidden * steps
    return {"hidden": hidden, "seeds": seeds, "batch_per_seed": batch, "steps_per_chunk": steps,
            "mkl_chunk_seconds": min(mkl), "onednn_chunk_seconds": min(onednn),
            "mkl_gflops": flops / min(mkl) / 1e9, "onednn_gflops": flops / min(onednn) / 1e9,
            "onednn_speedup": min(mkl) / min(onednn),
            "max_state_difference": difference.abs().max().item()}
