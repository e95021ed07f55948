"""The benchmark runs end to end on a tiny size (it measures; it asserts no speed)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from stages.core.params import load_params
from tools import bench


@pytest.mark.slow
def test_benchmark_runs_both_loops_and_writes_its_table(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert bench.main(["--hidden", "8", "--bptt", "5", "--batch", "4", "--updates", "2", "--repeats", "1",
                       "--peak-size", "64", "--out", str(out)]) == 0
    table = json.loads(out.read_text())
    assert [row["loop"] for row in table["rows"]] == ["writeup", "study", "study-batched"]
    assert [row["seeds_per_computation"] for row in table["rows"]] == [1, 1, 3]
    for row in table["rows"]:
        assert row["updates_per_s"] > 0 and row["frozen_steps_per_s"] > 0 and row["peak_rss_mib"] > 0
    assert table["machine"]["matmul_peak_gflops"] > 0
    assert "seed_scaling" not in table  # only the part named runs
    assert "speed-up" in capsys.readouterr().out


@pytest.mark.slow
def test_seed_scaling_alone_times_each_seed_count_batched_and_prints_the_ratio(tmp_path, capsys):
    out = tmp_path / "scaling.json"
    assert bench.main(["--seed-scaling", "1", "3", "10", "--scaling-hidden", "8", "--updates", "2", "--repeats", "1",
                       "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["rows"] == []  # only the part named runs: no write-up table
    scaling = result["seed_scaling"]
    assert (scaling["hidden"], scaling["bptt"], scaling["batch_per_seed"]) == (8, 10, bench.PIPELINE_BATCH)
    rows = scaling["rows"]  # the JSON file keeps 6 significant digits: compare within that
    assert [row["seeds_per_computation"] for row in rows] == [1, 3, 10]
    for row in rows:
        assert row["loop"] == "study-batched" and row["hidden"] == 8 and row["batch"] == bench.PIPELINE_BATCH
        assert row["seed_epoch_seconds"] > 0
        seeds = row["seeds_per_computation"]
        assert row["epoch_seconds_all_seeds"] == pytest.approx(row["seed_epoch_seconds"] * seeds, rel=1e-4)
        one_seed = rows[0]["epoch_seconds_all_seeds"]
        assert row["epoch_vs_one_seed"] == pytest.approx(row["epoch_seconds_all_seeds"] / one_seed, rel=1e-4)
    ratio = rows[2]["epoch_seconds_all_seeds"] / rows[1]["epoch_seconds_all_seeds"]
    assert scaling["epoch_ratio_10_to_3"] == pytest.approx(ratio, rel=1e-4)
    printed = capsys.readouterr().out
    line = re.search(r"^10-seed epoch / 3-seed epoch: (\d+\.\d\d) \(the issue's target: at most 2\.0\)$", printed,
                     re.MULTILINE)
    assert line and float(line.group(1)) == pytest.approx(ratio, abs=0.0051)
    assert "speed-up" not in printed


@pytest.mark.slow
def test_seed_scaling_without_both_counts_prints_no_ratio(tmp_path, capsys):
    out = tmp_path / "scaling.json"
    assert bench.main(["--seed-scaling", "2", "--scaling-hidden", "8", "--scaling-batch", "4", "--updates", "2",
                       "--repeats", "1", "--out", str(out)]) == 0
    scaling = json.loads(out.read_text())["seed_scaling"]
    assert scaling["epoch_ratio_10_to_3"] is None and scaling["rows"][0]["epoch_vs_one_seed"] is None
    assert "seed epoch /" not in capsys.readouterr().out


def test_seed_scaling_batch_is_the_pipelines():
    params = load_params(Path(__file__).resolve().parents[2] / "params.yaml")
    assert bench.PIPELINE_BATCH == 2 * params.data.examples_per_class


def test_both_loops_compute_the_same_losses():
    """The benchmark compares equal work: same weights, data and states give the same update-pass losses."""
    import numpy as np
    import torch

    from stages.learning.model import ModelConfig, ReplicaClassifier

    rng = np.random.default_rng(0)
    data = rng.standard_normal((4, 20, 1), dtype=np.float32)
    labels = np.array([0, 0, 1, 1])
    states = torch.randn(1, 1, 4, 8, generator=torch.Generator().manual_seed(0)).clamp(-1, 1)
    config = ModelConfig(1, 8, 1, 2, "GRU", 1, False)
    ours = ReplicaClassifier(config, [0])
    rnn, head = ReplicaClassifier.reference_network(config, 0)
    theirs = bench.WriteupRNN(1, 8, 1, 2)
    theirs.rnn.load_state_dict(rnn.state_dict())
    theirs.fc.load_state_dict(head.state_dict())
    their_losses = bench.writeup_pass(theirs, torch.optim.Adam(theirs.parameters(), lr=1e-2), data,
                                      np.repeat(labels[:, None], 20, axis=1), states[0].numpy(), 5, update=True)
    our_losses = bench.study_pass(ours, torch.optim.Adam(ours.parameters(), lr=1e-2), torch.from_numpy(data)[None],
                                  torch.from_numpy(labels)[None], states, 5, update=True)
    assert our_losses == pytest.approx(their_losses, rel=1e-4)


@pytest.mark.slow
def test_product_timing_alone_times_each_seed_count_and_runs_nothing_else(tmp_path, capsys):
    out = tmp_path / "product.json"
    assert bench.main(["--product-seeds", "1", "3", "--scaling-hidden", "8", "--scaling-batch", "4",
                       "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["rows"] == [] and "seed_scaling" not in result  # only the part named runs
    product = result["product_scaling"]
    assert (product["hidden"], product["batch_per_seed"]) == (8, 4)
    assert [row["seeds"] for row in product["rows"]] == [1, 3]
    for row in product["rows"]:
        assert row["product_seconds"] > 0 and row["gflops"] > 0
        assert row["seconds_per_seed"] == pytest.approx(row["product_seconds"] / row["seeds"], rel=1e-4)
    assert "ms per seed" in capsys.readouterr().out


@pytest.mark.parametrize("argument", ["--seeds", "--batch", "--updates", "--seed-scaling", "--scaling-hidden",
                                      "--scaling-bptt", "--scaling-batch", "--product-seeds"])
def test_benchmark_refuses_a_non_positive_size(argument):
    with pytest.raises(SystemExit):
        bench.main([argument, "0"])
