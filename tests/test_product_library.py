"""The product-library comparison measures the same products both ways and names each library's code path (it
measures; it asserts no speed)."""

from __future__ import annotations

import json

import pytest
import torch

from stages import bench
from stages.product_library import chunk_inputs, code_paths, mkl_step_products, onednn_step_products
from stages.rnn import seed_bmm


@pytest.mark.parametrize("seeds, batch, hidden", [(1, 4, 8), (3, 16, 64), (5, 16, 96)])
def test_onednns_chain_computes_the_trainers_products_up_to_float_rounding(seeds, batch, hidden):
    states, weights = chunk_inputs(seeds, batch, hidden, torch.Generator().manual_seed(seeds))
    torch.testing.assert_close(onednn_step_products(states, weights, 5), mkl_step_products(states, weights, 5))


def test_the_trainers_chain_is_the_trainers_product_step_after_step():
    generator = torch.Generator().manual_seed(0)
    states = torch.rand(3, 4, 8, generator=generator)
    weights = torch.rand(3, 8, 24, generator=generator)
    expected = states
    for _ in range(3):
        expected = torch.tanh(seed_bmm(expected, weights)[..., :8])
    assert torch.equal(mkl_step_products(states, weights, 3), expected)


@pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason="this PyTorch build has no oneDNN")
def test_both_libraries_name_their_code_path():
    paths = code_paths()
    assert paths["onednn_isa"] and paths["onednn_implementation"]
    if torch.backends.mkl.is_available():
        assert paths["mkl_code_path"]
    assert paths["aten_cpu_capability"] == torch.backends.cpu.get_cpu_capability()


def test_product_library_alone_times_both_libraries_at_each_size_and_runs_nothing_else(tmp_path, capsys):
    out = tmp_path / "library.json"
    assert bench.main(["--product-library", "8", "--seeds", "2", "--scaling-batch", "4", "--scaling-bptt", "3",
                       "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["rows"] == [] and "seed_scaling" not in result and "product_scaling" not in result
    library = result["product_library"]
    assert (library["seeds"], library["batch_per_seed"], library["steps_per_chunk"]) == (2, 4, 3)
    assert [row["hidden"] for row in library["rows"]] == [8]
    for row in library["rows"]:
        assert row["mkl_chunk_seconds"] > 0 and row["onednn_chunk_seconds"] > 0
        assert row["onednn_speedup"] == pytest.approx(row["mkl_chunk_seconds"] / row["onednn_chunk_seconds"],
                                                      rel=1e-4)
        assert 0 <= row["max_state_difference"] < 1e-5
    assert "oneDNN speed-up" in capsys.readouterr().out
