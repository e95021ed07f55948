"""The benchmark runs end to end on a tiny size (it measures; it asserts no speed)."""

from __future__ import annotations

import json

import pytest

from stages import bench


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
    assert "speed-up" in capsys.readouterr().out


def test_both_loops_compute_the_same_losses():
    """The benchmark compares equal work: same weights, data and states give the same update-pass losses."""
    import numpy as np
    import torch

    from stages.model import ModelConfig, ReplicaClassifier

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


@pytest.mark.parametrize("argument", ["--seeds", "--batch", "--updates"])
def test_benchmark_refuses_a_non_positive_size(argument):
    with pytest.raises(SystemExit):
        bench.main([argument, "0"])
