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
    assert [row["loop"] for row in table["rows"]] == ["writeup", "study"]
    for row in table["rows"]:
        assert row["updates_per_s"] > 0 and row["frozen_steps_per_s"] > 0 and row["peak_rss_mib"] > 0
    assert table["machine"]["matmul_peak_gflops"] > 0
    assert "speed-up" in capsys.readouterr().out


def test_both_loops_compute_the_same_losses():
    """The benchmark compares equal work: same model, same data, same states give the same update-pass losses."""
    import numpy as np
    import torch

    from stages.model import ModelConfig, SequenceClassifier, initial_states
    from stages.tbptt import to_chunks

    rng = np.random.default_rng(0)
    data = rng.standard_normal((4, 20, 1), dtype=np.float32)
    labels = np.array([0, 0, 1, 1])
    states = initial_states("Random", num_layers=1, batch=4, hidden_size=8,
                            generator=torch.Generator().manual_seed(0), device=torch.device("cpu"))
    torch.manual_seed(0)
    ours = SequenceClassifier(ModelConfig(1, 8, 1, 2))
    theirs = bench.WriteupRNN(1, 8, 1, 2)
    theirs.rnn.load_state_dict(ours.rnn.state_dict())
    theirs.fc.load_state_dict(ours.head.state_dict())
    their_losses = bench.writeup_pass(theirs, torch.optim.Adam(theirs.parameters(), lr=1e-2), data,
                                      np.repeat(labels[:, None], 20, axis=1), states.numpy(), 5, update=True)
    our_losses = bench.study_pass(ours, torch.optim.Adam(ours.parameters(), lr=1e-2), to_chunks(torch.from_numpy(data), 5),
                                  torch.from_numpy(labels), states, update=True)
    assert our_losses == pytest.approx(their_losses, rel=1e-5)
