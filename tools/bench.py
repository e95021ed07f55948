"""Benchmark: the write-up's training loop against this study's trainer, on identical work, on this machine.

For each size it times, in a fresh process each (so peak memory is that configuration's own), the update pass and
the frozen pass of both loops, and prints updates per second, frozen-pass steps per second, achieved GFLOP/s of the
GRU's matrix products (2 FLOP per multiply-add; a backward pass counts twice its forward) as a fraction of the
machine's single-precision matrix-multiply peak (measured in the same run) and peak resident memory.

It also measures how the cost of an epoch grows with the number of seeds trained as one batched computation
(`--seed-scaling`): each count in a fresh process, at one size and the pipeline's batch of sequences per seed; it
prints the epoch's seconds for all seeds, per seed, and the 10-seed epoch over the 3-seed one. And it times the
step's product alone for several seed counts (`--product-seeds`): PyTorch shares a batched product out between its
threads by the batch entries, the seeds, so on 2 threads an odd count leaves one thread idle for the last seed.

    python -m tools.bench                       # the full table and the seed scaling, written to bench/results.json
    python -m tools.bench --hidden 16 --batch 4 --bptt 5 --updates 4 --out /tmp/bench.json   # a smoke run
    python -m tools.bench --seed-scaling 1 3 10 --scaling-hidden 256 --out /tmp/scaling.json  # only the scaling
    python -m tools.bench --hidden 64 --bptt 10 --seed-scaling 1 3 10     # one size of the table and the scaling
    python -m tools.bench --product-seeds 1 2 3 4 5 6 --scaling-hidden 512 --scaling-batch 64   # the product alone

Naming `--hidden`/`--bptt`, `--seed-scaling` or `--product-seeds` runs only the parts named; naming none runs all
three at their defaults. What it measured, and what the one-off experiments beside it measured (torch.compile's fused
step, oneDNN's product, the seed-epoch cost against an older commit), is in docs/speed.md.

The benchmark is a measuring instrument, not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from stages.core.files import write_json
from stages.learning.model import ModelConfig, ReplicaClassifier, make_optimizer
from stages.learning.tbptt import PassSettings, run_pass
from tools.floor import Product, product_seconds

LOOPS = ("writeup", "study", "study-batched")
DEFAULT_SIZES = [(64, 10), (64, 100), (128, 10), (128, 100), (512, 10), (512, 100)]
DEFAULT_SEED_COUNTS = [1, 3, 10]
DEFAULT_PRODUCT_SEEDS = [1, 2, 3, 4, 5, 6]
# The pipeline's default batch of one seed: data.examples_per_class (8) sequences of each of 2 classes.
PIPELINE_BATCH = 16
SCALING_PAIR = (3, 10)  # the figure: the 10-seed epoch over the 3-seed epoch (target: at most 2.0)


# --- The write-up's loop, written by us, faithfully: numpy chunks converted per chunk, the head on every step,
# --- the loss read back to numpy after every chunk, and a frozen pass that still records the autograd graph.
class WriteupRNN(nn.Module):
    def __init__(self, input_size: int, hidden_size: int, num_layers: int, output_size: int) -> None:
        super().__init__()
        self.rnn = nn.GRU(input_size=input_size, hidden_size=hidden_size, num_layers=num_layers, batch_first=True)
        self.fc = nn.Linear(in_features=hidden_size, out_features=output_size, bias=True)

    def forward(self, x: torch.Tensor, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        rnn_out, hidden = self.rnn(x, hidden)
        rnn_out = rnn_out.contiguous()
        fc_out = self.fc(rnn_out.view(rnn_out.size(0) * rnn_out.size(1), rnn_out.size(2)))
        return fc_out.view(rnn_out.size(0), rnn_out.size(1), fc_out.size(1)), hidden


def writeup_pass(model: WriteupRNN, optimizer: torch.optim.Optimizer, data: np.ndarray, labels: np.ndarray,
                 hidden_np: np.ndarray, bptt: int, update: bool) -> list[float]:
    criterion = nn.CrossEntropyLoss()
    hidden = torch.from_numpy(hidden_np)
    losses = []
    for i in range(data.shape[1] // bptt):
        batch = torch.from_numpy(data[:, i * bptt:(i + 1) * bptt, :])
        batch_labels = torch.from_numpy(labels[:, i * bptt:(i + 1) * bptt])
        hidden = hidden.detach()
        outputs, hidden = model(batch, hidden)
        loss = criterion(outputs[:, -1, :], batch_labels[:, -1])
        if update:
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1)
            optimizer.step()
        losses.append(float(loss.cpu().data.numpy()))
    return losses


# --- This study's trainer on the same work: one seed alone ("study"), or several seeds as one batched computation
# --- ("study-batched", each seed with its own data and states; its rates are per seed, so rows compare equal work).
def study_pass(model: ReplicaClassifier, optimizer: torch.optim.Optimizer, inputs: torch.Tensor,
               labels: torch.Tensor, states: torch.Tensor, bptt: int, update: bool) -> list[float]:
    """inputs (S, B, T, I), labels (S, B), states (S, L, B, H) -> the losses of replicate 0."""
    settings = PassSettings(protocol="per_chunk", bptt_size=bptt, loss_on="last", grad_clip=1.0)
    result = run_pass(model, inputs, labels, lambda batch: states, settings, optimizer=optimizer if update else None)
    return result.losses[:, 0].tolist()


def gru_flops_per_step(batch: int, input_size: int, hidden: int, layers: int) -> float:
    """Forward FLOPs of the GRU's matrix products for one time step of the whole batch."""
    first = 2 * batch * 3 * hidden * (input_size + hidden)
    return first + (layers - 1) * 2 * batch * 3 * hidden * (2 * hidden)


def matmul_gflops(rows: int, inner: int, columns: int, repeats: int) -> float:
    a, b = torch.randn(rows, inner), torch.randn(inner, columns)
    a @ b
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * rows * inner * columns * repeats / (time.perf_counter() - started) / 1e9


def matmul_peak_gflops(size: int = 2048, repeats: int = 10) -> float:
    """The machine's single-precision matrix-multiply rate on a large square product."""
    return matmul_gflops(size, size, size, repeats)


def _time(fn, repeats: int) -> float:
    fn()  # warm-up: allocator, thread pool, oneDNN primitives
    started = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - started) / repeats


def measure_one(loop: str, hidden: int, batch: int, bptt: int, updates: int, repeats: int, seed: int,
                seeds: int) -> dict:
    """Time one loop at one size in this process; rates are per seed; returns this process's peak memory too."""
    replicas = seeds if loop == "study-batched" else 1
    rng = np.random.default_rng(seed)
    steps = bptt * updates
    data = rng.standard_normal((replicas, batch, steps, 1), dtype=np.float32)
    labels = np.repeat(np.arange(2), batch // 2).astype(np.int64)
    states = torch.randn(replicas, 1, batch, hidden, generator=torch.Generator().manual_seed(seed)).clamp_(-1, 1)
    if loop == "writeup":
        torch.manual_seed(seed)
        model = WriteupRNN(1, hidden, 1, 2)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
        step_labels = np.repeat(labels[:, None], steps, axis=1)
        hidden_np = states[0].numpy()

        def run(update: bool) -> None:
            writeup_pass(model, optimizer, data[0], step_labels, hidden_np, bptt, update)
    else:
        model = ReplicaClassifier(ModelConfig(1, hidden, 1, 2, "GRU", replicas, False), list(range(replicas)))
        optimizer = make_optimizer(model, learning_rate=1e-4, weight_decay=0.0)
        inputs = torch.from_numpy(data)
        label_tensor = torch.from_numpy(np.tile(labels, (replicas, 1)))

        def run(update: bool) -> None:
            study_pass(model, optimizer, inputs, label_tensor, states, bptt, update)

    update_seconds = _time(lambda: run(True), repeats) / replicas
    frozen_seconds = _time(lambda: run(False), repeats) / replicas
    step_flops = gru_flops_per_step(batch, 1, hidden, 1)
    return {
        "loop": loop, "seeds_per_computation": replicas, "hidden": hidden, "batch": batch, "bptt": bptt,
        "updates_per_pass": updates,
        "updates_per_s": updates / update_seconds,
        "frozen_steps_per_s": steps / frozen_seconds,
        "update_pass_gflops": 3 * step_flops * steps / update_seconds / 1e9,
        "frozen_pass_gflops": step_flops * steps / frozen_seconds / 1e9,
        "epoch_seconds": update_seconds + frozen_seconds,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _child(args: argparse.Namespace, loop: str, hidden: int, bptt: int, *, batch: int | None = None,
           seeds: int | None = None) -> dict:
    """`measure_one` in a fresh process (so peak memory is that configuration's own); batch and seeds default to
    the table's."""
    batch = args.batch if batch is None else batch
    seeds = args.seeds if seeds is None else seeds
    command = [sys.executable, "-m", "tools.bench", "--child", loop, "--hidden", str(hidden), "--bptt", str(bptt),
               "--batch", str(batch), "--updates", str(args.updates), "--repeats", str(args.repeats),
               "--threads", str(args.threads), "--seeds", str(seeds)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def seed_scaling(args: argparse.Namespace) -> dict:
    """Time an epoch of `n` seeds trained as one batched computation, for each n in `--seed-scaling`; print and
    return the rows and the 10-seed over 3-seed epoch ratio (None when either count is missing)."""
    hidden, bptt, batch = args.scaling_hidden, args.scaling_bptt, args.scaling_batch
    print(f"seed scaling: hidden {hidden}, bptt {bptt}, {batch} sequences per seed; an epoch is one update pass and "
          f"one frozen pass of {args.updates} chunks each")
    print(f"{'seeds':>5} {'epoch s (all seeds)':>20} {'s per seed-epoch':>17} {'vs 1 seed':>10} {'RSS MiB':>8}")
    rows: list[dict] = []
    for seeds in args.seed_scaling:
        row = _child(args, "study-batched", hidden, bptt, batch=batch, seeds=seeds)
        # measure_one's rates and epoch_seconds are per seed; the batched computation's own epoch covers them all.
        row["seed_epoch_seconds"] = row["epoch_seconds"]
        row["epoch_seconds_all_seeds"] = row["epoch_seconds"] * seeds
        rows.append(row)
    single = next((row["epoch_seconds_all_seeds"] for row in rows if row["seeds_per_computation"] == 1), None)
    for row in rows:
        row["epoch_vs_one_seed"] = None if single is None else row["epoch_seconds_all_seeds"] / single
        versus = "" if single is None else f"{row['epoch_vs_one_seed']:.2f}x"
        print(f"{row['seeds_per_computation']:>5} {row['epoch_seconds_all_seeds']:>20.3f} "
              f"{row['seed_epoch_seconds']:>17.3f} {versus:>10} {row['peak_rss_mib']:>8.0f}", flush=True)
    epochs = {row["seeds_per_computation"]: row["epoch_seconds_all_seeds"] for row in rows}
    fewer, more = SCALING_PAIR
    ratio = epochs[more] / epochs[fewer] if fewer in epochs and more in epochs else None
    if ratio is not None:
        print(f"{more}-seed epoch / {fewer}-seed epoch: {ratio:.2f} (the issue's target: at most 2.0)")
    return {"hidden": hidden, "bptt": bptt, "batch_per_seed": batch, "updates_per_pass": args.updates,
            "repeats": args.repeats, f"epoch_ratio_{more}_to_{fewer}": ratio, "rows": rows}


def product_scaling(args: argparse.Namespace) -> dict:
    """Time the GRU's step product alone (seeds x sequences x hidden by hidden x 3 hidden, one `bmm`) for each seed
    count in `--product-seeds`; print and return the rows."""
    hidden, batch = args.scaling_hidden, args.scaling_batch
    print(f"step product alone: hidden {hidden}, {batch} sequences per seed, {args.threads} thread(s)")
    print(f"{'seeds':>5} {'ms per product':>15} {'ms per seed':>12} {'GFLOP/s':>8}")
    rows = []
    for seeds in args.product_seeds:
        product = Product(replicas=seeds, rows=batch, hidden=hidden, gates=3)
        seconds = product_seconds(product, min_seconds=0.2)
        row = {"seeds": seeds, "product_seconds": seconds, "seconds_per_seed": seconds / seeds,
               "gflops": product.flops / seconds / 1e9}
        rows.append(row)
        print(f"{seeds:>5} {1e3 * seconds:>15.3f} {1e3 * row['seconds_per_seed']:>12.3f} {row['gflops']:>8.1f}",
              flush=True)
    return {"hidden": hidden, "batch_per_seed": batch, "threads": args.threads, "rows": rows}


def table(args: argparse.Namespace, machine: dict) -> list[dict]:
    """The write-up's loop against this study's trainer at each size; prints the table, adds the matmul rates to
    `machine` and returns the rows."""
    sizes = [(h, b) for h in args.hidden for b in args.bptt] if args.hidden else DEFAULT_SIZES
    peak = matmul_peak_gflops(args.peak_size)
    # The GRU's own step product (batch x hidden by hidden x 3 hidden) at the largest hidden size: the ceiling a
    # recurrent step can reach, since its products are this small and strictly sequential.
    step_hidden = max(hidden for hidden, _ in sizes)
    step_rate = matmul_gflops(args.batch, step_hidden, 3 * step_hidden, repeats=max(10, 2_000_000 // step_hidden**2))
    rows = []
    print(f"single-precision matmul peak: {peak:.1f} GFLOP/s on {args.threads} thread(s); GRU step product "
          f"{args.batch}x{step_hidden} by {step_hidden}x{3 * step_hidden}: {step_rate:.1f} GFLOP/s "
          f"({100 * step_rate / peak:.0f}% of peak)")
    print(f"rates are per seed; study-batched trains {args.seeds} seeds as one computation")
    header = (f"{'hidden':>6} {'bptt':>5} {'loop':>13} {'upd/s':>8} {'frozen st/s':>12} {'upd GF/s':>9} "
              f"{'% peak':>7} {'frz GF/s':>9} {'epoch s':>8} {'speed-up':>9} {'RSS MiB':>8}")
    print(header)
    for hidden, bptt in sizes:
        pair = {loop: _child(args, loop, hidden, bptt) for loop in LOOPS}
        for loop, row in pair.items():
            row["update_pass_fraction_of_peak"] = row["update_pass_gflops"] / peak
            row["epoch_speedup_vs_writeup"] = pair["writeup"]["epoch_seconds"] / row["epoch_seconds"]
            rows.append(row)
            print(f"{hidden:>6} {bptt:>5} {loop:>13} {row['updates_per_s']:>8.1f} {row['frozen_steps_per_s']:>12.0f} "
                  f"{row['update_pass_gflops']:>9.1f} {100 * row['update_pass_fraction_of_peak']:>6.0f}% "
                  f"{row['frozen_pass_gflops']:>9.1f} {row['epoch_seconds']:>8.3f} "
                  f"{row['epoch_speedup_vs_writeup']:>8.2f}x {row['peak_rss_mib']:>8.0f}", flush=True)
    machine.update({"matmul_peak_gflops": peak, "gru_step_matmul_gflops": step_rate,
                    "gru_step_matmul_hidden": step_hidden})
    return rows


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The benchmark's arguments, checked: sizes and counts positive, sequences per seed even (two classes)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hidden", type=int, nargs="*", help="hidden sizes (default: 64 128 512)")
    parser.add_argument("--bptt", type=int, nargs="*", help="bptt sizes (default: 10 100)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--updates", type=int, default=50, help="updates per timed pass")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes after one warm-up")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--seeds", type=int, default=3, help="seeds the batched trainer computes together")
    parser.add_argument("--peak-size", type=int, default=2048, help="side of the square matmul that measures the peak")
    parser.add_argument("--seed-scaling", type=int, nargs="+", metavar="SEEDS",
                        help=f"seed counts whose batched epoch is timed (default with no sizes: "
                             f"{' '.join(map(str, DEFAULT_SEED_COUNTS))})")
    parser.add_argument("--product-seeds", type=int, nargs="+", metavar="SEEDS",
                        help=f"seed counts whose step product is timed alone (default with nothing else named: "
                             f"{' '.join(map(str, DEFAULT_PRODUCT_SEEDS))})")
    parser.add_argument("--scaling-hidden", type=int, default=256,
                        help="hidden size of the seed scaling and of the product timing")
    parser.add_argument("--scaling-bptt", type=int, default=10, help="bptt size of the seed scaling")
    parser.add_argument("--scaling-batch", type=int, default=PIPELINE_BATCH,
                        help="sequences per seed in the seed scaling and the product timing (default: the pipeline's)")
    parser.add_argument("--out", type=Path, default=Path("bench/results.json"))
    parser.add_argument("--child", choices=LOOPS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name in ("batch", "updates", "repeats", "threads", "peak_size", "seeds", "scaling_hidden", "scaling_bptt",
                 "scaling_batch"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive")
    for name in ("seed_scaling", "product_seeds"):
        if getattr(args, name) is not None and min(getattr(args, name)) <= 0:
            parser.error(f"--{name.replace('_', '-')}: every seed count must be positive")
    if not args.child and (args.batch % 2 or args.scaling_batch % 2):
        parser.error("--batch and --scaling-batch must be even (two classes)")
    if bool(args.hidden) != bool(args.bptt):
        parser.error("give both --hidden and --bptt, or neither")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # the same numerics as the pipeline's default for both loops
    if args.child:  # one loop at one size, in this fresh process: its row as JSON
        print(json.dumps(measure_one(args.child, args.hidden[0], args.batch, args.bptt[0], args.updates,
                                     args.repeats, seed=0, seeds=args.seeds)))
        return 0
    # The parts named run alone; naming none runs all three at their defaults.
    if not args.hidden and args.seed_scaling is None and args.product_seeds is None:
        args.seed_scaling, args.product_seeds = DEFAULT_SEED_COUNTS, DEFAULT_PRODUCT_SEEDS
        run_table = True
    else:
        run_table = bool(args.hidden)
    machine = {"platform": platform.platform(), "processor": platform.processor(), "threads": args.threads,
               "torch": torch.__version__}
    result = {
        "machine": machine,
        "settings": {"batch": args.batch, "updates_per_pass": args.updates, "repeats": args.repeats,
                     "seeds_batched": args.seeds},
        "rows": table(args, machine) if run_table else [],
    }
    if args.seed_scaling:
        result["seed_scaling"] = seed_scaling(args)
    if args.product_seeds:
        result["product_scaling"] = product_scaling(args)
    write_json(args.out, result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
