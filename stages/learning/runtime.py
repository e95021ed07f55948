"""What every PyTorch stage sets up before its first tensor operation: the math library's code path, threads and
floating-point mode, the device, the seeds of each purpose, and the wall-time record.

A stage's command calls `configure_numerics(params, first=True)` before it touches a tensor:

- **The math library's code path** (`MKL_CBWR`, docs/reproducibility.md). Every matrix product of the study goes
  to MKL's batched product. Without a setting MKL picks its kernels, cache blocking and scheduling from the
  processor; its conditional-reproducibility mode `AUTO` keeps the processor's instruction set but fixes the cache
  sizes, the reductions and the scheduling. It changed no output on the Intel host where it was measured and cost
  about 1% of a cell's training. A value the user sets is kept: `MKL_CBWR=COMPATIBLE` gives the same bytes on Intel
  and AMD processors, at about 2.4 times the training time.
- **Threads** are not a parameter: outputs are byte-identical at 1 and 2 threads (tests/learning/test_runtime.py),
  so PyTorch's own default (one per core, or `OMP_NUM_THREADS`) decides, and changing it reruns no stage.
- **Subnormal floats** flushed to zero on every thread (`train.flush_denormal`), checked.
- **MKL's vector math** started from one thread (see `start_vector_math`).
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

import numpy as np
import torch

from stages.core.files import write_json
from stages.core.params import Params, ParamsError

# Read by MKL at its first call, so set here, before any tensor operation (docs/reproducibility.md).
MKL_BRANCH = "AUTO"
os.environ.setdefault("MKL_CBWR", MKL_BRANCH)

# The purposes a replicate seed is derived for: replicate r's seed of one purpose never depends on the others.
WEIGHTS, TRAINING_STATES, EVALUATION_STATES, SCHEDULE = 0, 1, 2, 3


class NumericsError(ParamsError):
    """`train.flush_denormal` could not take effect on every thread of the process."""


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ParamsError("train.device: 'cuda' requested but no CUDA device is available (use cpu or auto)")
    return torch.device(name)


def configure_numerics(params: Params, *, first: bool = False) -> None:
    """Subnormal handling for this process. A stage's entry point calls it with `first=True` before any tensor
    operation, which also starts the vector math from this thread and checks that the setting reached every thread:
    each thread of PyTorch's pool copies the floating-point mode of the thread that starts it, so a pool started
    earlier keeps computing subnormals exactly on its share of the work while the main thread flushes them, and the
    result then depends on how the work was split."""
    # Gradients that fade over a long chunk reach subnormal floats, which x86 CPUs process many times slower.
    torch.set_flush_denormal(params.train.flush_denormal)
    if not first:
        return
    start_vector_math()
    if params.train.flush_denormal and not flushes_on_every_thread():
        raise NumericsError(
            "train.flush_denormal: a thread pool started before the setting kept computing with subnormal floats; "
            "call configure_numerics before any tensor operation"
        )


def start_vector_math() -> None:
    """Initialise MKL's vector math, which computes `torch.tanh` and `torch.exp` on the CPU, from this thread alone.

    Its first call, made at once from two threads (any element-wise tanh or exp large enough to be split), sometimes
    leaves one thread computing that call to about 5e-5 relative error instead of full precision: the first pass
    of a process then differs from every later one in its first step, on that thread's half of the elements (seen
    on an Intel Xeon host in 9 of 40 fresh processes; docs/reproducibility.md). After one small call from one
    thread first, in none of 85. The call is below PyTorch's parallel grain, so it runs on this thread and starts
    no pool."""
    torch.tanh(torch.zeros(16))


def flushes_on_every_thread() -> bool:
    """Whether an element-wise product split across all of the pool's threads flushes a subnormal input to 0
    everywhere (a few milliseconds)."""
    # Written as bits (the smallest subnormal), not converted from a float, which flush-to-zero would already zero.
    subnormal = torch.full((1 << 20,), 1, dtype=torch.int32).view(torch.float32)
    return not bool(torch.count_nonzero(subnormal * 1.0))


def derived_seed(*parts: int) -> int:
    """A seed for one purpose, independent of the streams derived from other parts."""
    return int(np.random.SeedSequence(list(parts)).generate_state(1)[0])


def replicate_seeds(params: Params, purpose: int, count: int, root: int | None = None) -> list[int]:
    """One seed per replicate for one purpose (WEIGHTS, TRAINING_STATES, EVALUATION_STATES); replicate r's seed is
    the same whatever the count."""
    root = params.train.seed if root is None else root
    return [derived_seed(root, replicate, purpose) for replicate in range(count)]


def state_generators(seeds: list[int]) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(seed) for seed in seeds]


def processor() -> str:
    """The processor that computed a result: its outputs depend on it (docs/reproducibility.md)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def write_timing(path: Path, seconds: float, device: torch.device, **details: float) -> None:
    """Wall time of one stage of one cell, for the report's timing table, and what computed it. Kept apart from the
    results (an output of its own) because it changes from run to run while the results do not."""
    write_json(path, {"seconds": round(seconds, 3), "device": str(device), "threads": torch.get_num_threads(),
                      "processor": processor(), "mkl_cbwr": os.environ.get("MKL_CBWR", ""),
                      **{key: round(value, 3) for key, value in details.items()}})
