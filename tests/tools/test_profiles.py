"""Profiles: a file of overrides runs the study in its own clone, publishes its report, and the quick report
compares its findings with the paper profile's, verdict by verdict."""

from __future__ import annotations

import copy
import shutil
import sys

import pandas as pd
import pytest
import yaml
from conftest import REPO, TINY, run

from stages.core.params import cells, families_run, parse_params
from stages.reporting.agreement import (
    AGREE,
    DISAGREE,
    NOT_COMPARED,
    NOT_TESTED_THERE,
    UNDECIDED_BOTH,
    UNDECIDED_HERE,
    UNDECIDED_THERE,
    agreement_of,
    differing_settings,
)
from stages.reporting.findings import ABSENT, FAILS, HOLDS, INCONCLUSIVE, NOT_TESTED
from stages.reporting.published import read_published, real_settings_differ, settings_differ
from tools import profiles as profile

DVC = [sys.executable, "-m", "dvc"]
# A tiny stand-in for the paper profile: the grid alone, more seeds, another learning rate.
TINY_PAPER = {
    "replicates": {"count": 3, "primary_count": 3},
    "train": {"learning_rate": 0.02},
    "remedies": {"protocol": []}, "architecture": {"cell": []}, "onset": {"hidden_size": []},
    "capacity": {"examples_per_class": []}, "realdata": {"dataset": []},
    "probe": {"grid": {}, "real": {}},
    "report": {"paper_agreement": False, "confirmation": False},
}

# A tiny stand-in for the real profile: more protocols on the real recordings, the toy families left out.
TINY_REAL = {
    "train": {"sequences_per_update": 25},
    "sweep": {"data_type": ["SameRandom"], "initial_state_type": ["Random"], "bptt_size": [10]},
    "remedies": {"protocol": []}, "architecture": {"cell": []}, "onset": {"hidden_size": []},
    "capacity": {"examples_per_class": []},
    "realdata": {"protocol": ["per_chunk", "per_sequence"]},
    "probe": {"grid": {}, "real": {}},
    "report": {"paper_agreement": False, "confirmation": False},
}


def test_the_shipped_paper_profile_holds_the_write_ups_settings():
    merged = profile.profile_params("paper")
    params = parse_params(merged)
    assert (params.model.hidden_size, params.data.examples_per_class, params.data.seq_size) == (512, 32, 10000)
    assert (params.train.learning_rate, params.train.epochs, params.sweep.bptt_size) == (0.002, 25, (10,))
    assert params.replicates.count >= 3 and params.replicates.primary_count == params.replicates.count
    names = {cell.name for cell in cells(params)}
    for wanted in ("SameRandom-Random-10", "SameDistRandom-Zeros-10", "SameDistRandom-Random-10",
                   "DiffDistRandom-Zeros-10", "DiffDistRandom-Random-10"):
        assert f"grid/{wanted}" in names
    assert all(cell.family == "grid" for cell in cells(params))
    assert not params.report.paper_agreement


def test_the_shipped_supplement_profile_runs_the_families_the_quick_default_leaves_out():
    quick_raw = yaml.safe_load((REPO / "params.yaml").read_text())
    supplement_raw = profile.profile_params("supplement")
    left_out = {family for family, ran in families_run(parse_params(quick_raw)).items() if not ran}
    assert left_out == {"architecture", "onset", "chunks"}
    assert all(families_run(parse_params(supplement_raw))[family] for family in left_out)
    # At the quick default's settings (data, model, training, evaluation, seeds), as its report will say.
    assert settings_differ(parse_params(quick_raw), parse_params(supplement_raw)) == []


def test_a_profile_key_that_params_yaml_lacks_is_named(tmp_path):
    (tmp_path / "profiles").mkdir()
    shutil.copy2(REPO / "params.yaml", tmp_path / "params.yaml")
    (tmp_path / "profiles" / "typo.yaml").write_text("train:\n  learning_rte: 0.1\n")
    with pytest.raises(profile.ProfileError, match="train.learning_rte: unknown key"):
        profile.profile_params("typo", tmp_path)
    (tmp_path / "profiles" / "bad.yaml").write_text("train:\n  epochs: 0\n")
    with pytest.raises(profile.ProfileError, match="train.epochs"):
        profile.profile_params("bad", tmp_path)
    with pytest.raises(profile.ProfileError, match="'absent'.*profiles: bad, typo"):
        profile.profile_params("absent", tmp_path)


def test_merge_replaces_lists_and_cell_maps_whole_and_keeps_the_rest():
    base = {"a": {"x": [1, 2], "y": 3}, "probe": {"grid": {"k": "v"}, "every": 2}}
    merged = profile.merge(base, {"a": {"x": []}, "probe": {"grid": {}}})
    assert merged == {"a": {"x": [], "y": 3}, "probe": {"grid": {}, "every": 2}}
    assert base["a"]["x"] == [1, 2]  # the base is not modified


@pytest.mark.parametrize(("here", "there", "expected"), [
    (HOLDS, HOLDS, AGREE), (FAILS, FAILS, AGREE), (HOLDS, FAILS, DISAGREE), (FAILS, HOLDS, DISAGREE),
    (INCONCLUSIVE, HOLDS, UNDECIDED_HERE), (HOLDS, INCONCLUSIVE, UNDECIDED_THERE),
    (INCONCLUSIVE, INCONCLUSIVE, UNDECIDED_BOTH), (HOLDS, NOT_TESTED, NOT_TESTED_THERE),
    (HOLDS, ABSENT, NOT_COMPARED), (ABSENT, HOLDS, NOT_COMPARED), (HOLDS, None, NOT_COMPARED),
])
def test_two_verdicts_agree_only_when_both_decide_the_same_way(here, there, expected):
    assert agreement_of(here, there) == expected


def test_differing_settings_name_the_run_settings_not_the_families_left_out():
    here, there = copy.deepcopy(TINY), profile.merge(TINY, TINY_PAPER)
    keys = [key for key, _, _ in differing_settings(here, there)]
    assert keys == ["replicates.count", "train.learning_rate"]


def test_an_unpublished_profile_reads_as_none_and_half_a_publication_is_an_error(tmp_path):
    assert read_published(tmp_path, "paper") is None
    (tmp_path / "tables").mkdir()
    pd.DataFrame({"key": ["headline"], "verdict": [HOLDS]}).to_csv(tmp_path / "tables" / "findings.csv")
    with pytest.raises(FileNotFoundError, match="params.yaml"):
        read_published(tmp_path, "paper")


@pytest.fixture(scope="module")
def published_project(pipeline_run, tmp_path_factory):
    """A copy of the tiny study with a tiny 'paper' profile run by `tools.profiles` and its report published."""
    shared, _ = pipeline_run
    root = tmp_path_factory.mktemp("profiled") / "repo"
    shutil.copytree(shared, root, symlinks=True)
    (root / "profiles").mkdir(exist_ok=True)
    (root / "profiles" / "paper.yaml").write_text(yaml.safe_dump(TINY_PAPER, sort_keys=False))
    (root / "profiles" / "real.yaml").write_text(yaml.safe_dump(TINY_REAL, sort_keys=False))
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-qm", "tiny paper and real profiles"], root)
    result = run([sys.executable, "-m", "tools.profiles", "paper"], root)
    run([sys.executable, "-m", "tools.profiles", "real"], root)
    return root, result


@pytest.mark.slow
def test_a_profile_runs_in_its_own_clone_and_publishes_its_report(published_project):
    root, result = published_project
    published = root / "reports" / "paper"
    for name in ("report.md", "index.html", "findings.json", "params.yaml", "dvc.lock", "tables", "figures"):
        assert (published / name).exists(), name
    assert (published / "tables" / "summary.csv").is_file()
    assert not (published / "tables" / "last_epoch.csv").exists()  # every update's loss stays in the clone
    ran = yaml.safe_load((published / "params.yaml").read_text())
    assert ran["replicates"]["count"] == 3 and ran["remedies"]["protocol"] == []
    # The clone, not the project, holds the profile's data: the quick study's outputs are untouched.
    assert (root / ".profiles" / "paper" / "data" / "train" / "grid").is_dir()
    assert not (root / "data" / "train" / "grid" / "SameRandom-Random-10" / "profile").exists()
    assert "report published" in result.stdout
    report = (published / "report.md").read_text()
    assert "Not part of this run (`remedies.protocol` is empty)." in report
    assert "At the write-up's own settings (profile `paper`" not in report  # switched off in the profile
    assert "on new seeds" not in report  # and so is the confirmation's column


@pytest.mark.slow
def test_a_profile_with_uncommitted_parameters_is_refused_before_any_work(published_project):
    root, _ = published_project
    profile_file = root / "profiles" / "paper.yaml"
    original = profile_file.read_text()
    profile_file.write_text(original.replace("0.02", "0.03"))
    try:
        with pytest.raises(profile.ProfileError, match="profiles/paper.yaml has uncommitted changes"):
            profile.run_profile("paper", root)
    finally:
        profile_file.write_text(original)


@pytest.mark.slow
def test_rerunning_a_finished_profile_repeats_no_stage(published_project):
    root, _ = published_project
    result = run([sys.executable, "-m", "tools.profiles", "paper"], root)
    assert "Running stage" not in result.stdout


@pytest.mark.slow
def test_the_quick_report_compares_its_findings_with_the_published_profile(published_project):
    root, _ = published_project
    run(DVC + ["repro", "report"], root)
    report = (root / "reports" / "report.md").read_text()
    assert "At the write-up's own settings (profile `paper`, [`reports/paper/`](paper/report.md)" in report
    # The settings in which the two runs differ are named beside the comparison.
    assert "`train.learning_rate` 0.01 here, 0.02 there" in report and "`replicates.count` 2 here, 3 there" in report
    table = pd.read_csv(root / "reports" / "tables" / "agreement_paper.csv")
    quick = pd.read_csv(root / "reports" / "tables" / "findings.csv")
    paper = pd.read_csv(root / "reports" / "paper" / "tables" / "findings.csv").set_index("key")
    assert list(table["key"]) == list(quick["key"])  # one row per finding of this run, in its order
    for row in table.itertuples():
        there = paper["verdict"].get(row.key)
        assert row.agreement == agreement_of(row.verdict, there if isinstance(there, str) else None)
    # The families the profile leaves out are never compared, and read as absent there, as any finding it lacks.
    assert set(table.loc[table["key"].str.startswith("capacity_"), "agreement"]) == {NOT_COMPARED}
    never_stated = ~table["key"].isin(paper.index)
    assert never_stated.any() and set(table.loc[never_stated, "other_verdict"]) == {ABSENT}


@pytest.mark.slow
def test_a_new_commit_of_report_code_reruns_only_the_profiles_report(published_project):
    root, _ = published_project
    template = root / "stages" / "reporting" / "templates" / "report.md.j2"
    template.write_text(template.read_text() + "{# a later commit touches the report alone #}\n")
    run(["git", "commit", "-qam", "report code only"], root)
    result = run([sys.executable, "-m", "tools.profiles", "paper"], root)
    assert result.stdout.count("Running stage") == 1 and "Running stage 'report'" in result.stdout


@pytest.mark.slow
def test_the_remedies_table_takes_the_real_cells_it_lacks_from_the_real_profile(published_project):
    root, _ = published_project
    run(DVC + ["repro", "report"], root)
    report = (root / "reports" / "report.md").read_text()
    section = report[report.index("## 3. What closes the gap"):report.index("## 4. Real recordings")]
    row = next(line for line in section.splitlines() if line.startswith("| protocol per_sequence"))
    assert "(profile `real`)" in row  # the real profile ran it; this run did not
    # Steps per epoch, toy; real: one step per pass on the toy data here, one per 25 of ACSF1's 100 recordings there.
    assert "| 1; 4 " in row
    assert "not run on real data" in next(line for line in section.splitlines()
                                          if line.startswith("| protocol interleaved"))
    assert "come from that profile's published report" in " ".join(section.split())


def test_a_real_profile_run_with_other_settings_is_not_used():
    here = parse_params(copy.deepcopy(TINY))
    assert real_settings_differ(here, parse_params(profile.merge(TINY, TINY_REAL))) == []
    other = profile.merge(TINY, {**TINY_REAL, "train": {"learning_rate": 0.5, "sequences_per_update": 25}})
    assert real_settings_differ(here, parse_params(other)) == ["train.learning_rate"]


@pytest.mark.slow
def test_a_family_this_run_leaves_out_points_to_the_supplement_profile_once_published(published_project, tmp_path):
    root, _ = published_project
    params_file, supplement = root / "params.yaml", root / "reports" / "supplement"
    original = params_file.read_text()
    raw = yaml.safe_load(original)
    # The tiny study ran every family: published as it stands (set aside until it is needed), it is the supplement of
    # a run that leaves the onset map and the other cells out.
    ran_every_family = tmp_path / "supplement"
    profile.publish(root, ran_every_family)
    raw["architecture"]["cell"], raw["onset"]["hidden_size"] = [], []
    try:
        params_file.write_text(yaml.safe_dump(raw, sort_keys=False))
        run(DVC + ["repro", "report"], root)
        report = " ".join((root / "reports" / "report.md").read_text().split())
        assert "Not in this run: " in report and "*The gap is not specific to the GRU: an LSTM shows it too*" in report
        assert "supplement/report.md" not in report  # not published: nothing to link

        # Once published, the report points to the supplement.
        shutil.copytree(ran_every_family, supplement, dirs_exist_ok=True)  # beside the profile's README
        run(DVC + ["repro", "report"], root)
        report = " ".join((root / "reports" / "report.md").read_text().split())
        assert "They run in the profile `supplement` ([`reports/supplement/`](supplement/report.md))" in report
        assert "the LSTM and the onset map ([`reports/supplement/`](supplement/report.md))." in report  # same settings

        # A supplement trained at another learning rate is pointed to with that difference named.
        published = yaml.safe_load((supplement / "params.yaml").read_text())
        published["train"]["learning_rate"] = 0.05
        (supplement / "params.yaml").write_text(yaml.safe_dump(published, sort_keys=False))
        run(DVC + ["repro", "report"], root)
        report = " ".join((root / "reports" / "report.md").read_text().split())
        assert ("the LSTM and the onset map ([`reports/supplement/`](supplement/report.md)), at other settings "
                "(`train.learning_rate` differs from this run's).") in report
    finally:
        # The files as they were; the report is left as the last run made it (every test of this project that reads
        # the report runs `dvc repro report` first).
        params_file.write_text(original)
        for path in supplement.iterdir():
            if path.name != "README.md":
                shutil.rmtree(path) if path.is_dir() else path.unlink()
