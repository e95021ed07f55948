"""The README is a front door: it opens with the two commands that set up and run the study and its tests (the second
is what CI runs), stays short, and its table of primary findings is the committed report's, never a stale copy."""

from __future__ import annotations

import re
import subprocess

import pandas as pd
from conftest import REPO

README = (REPO / "README.md").read_text()
COMMANDS = re.findall(r"```bash\n(.*?)\n```", README, re.S)


def test_the_readme_opens_with_the_main_job_and_the_tests_and_ci_runs_the_second():
    assert COMMANDS[0] == "python3 -m venv .venv && . .venv/bin/activate && pip install -e . && dvc repro"
    assert COMMANDS[1] == ("python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[test]' && "
                           "python -m pytest")
    assert COMMANDS[1] in (REPO / ".ci" / "run").read_text()


def test_the_readme_is_short_and_keeps_its_history_elsewhere():
    lines = README.splitlines()
    assert len(lines) <= 250
    dated = [line for line in lines if re.search(r"\b20\d\d-\d\d-\d\d\b", line)]
    assert len(dated) <= 3, dated
    for page in ("docs/speed.md", "docs/reproducibility.md", "docs/profiles.md", "CHANGELOG.md"):
        assert (REPO / page).is_file()


def _summary_of(report: str) -> str:
    return report[report.index('<div class="summary">'):report.index("</div>")].removeprefix(
        '<div class="summary">').strip()


def test_the_readmes_answer_is_the_committed_reports_summary():
    start, end = "<!-- answer: written by the report stage -->", "<!-- end of answer -->"
    answer = README[README.index(start) + len(start):README.index(end)].strip()
    assert answer and answer == _summary_of((REPO / "reports" / "report.md").read_text())


def test_the_readmes_primary_findings_are_the_committed_reports():
    start, end = "<!-- primary findings: written by the report stage -->", "<!-- end of primary findings -->"
    block = README[README.index(start):README.index(end)]
    rows = [line for line in block.splitlines() if line.startswith("|")][2:]
    report = (REPO / "reports" / "report.md").read_text()
    glance = report[report.index("## Findings at a glance"):report.index("## In your own training loop")]
    assert rows and all(row in glance for row in rows)


def test_every_file_the_front_door_and_the_reports_link_to_is_committed():
    # Read from git's index, not the disk, so that a figure the report stage wrote but nobody committed fails here
    # and not on a reader's clone.
    tracked = set(subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True,
                                 check=True).stdout.splitlines())
    pages = ["README.md", "CHANGELOG.md", *sorted(page for page in tracked if page.startswith("docs/")
                                                  and page.endswith(".md")),
             *sorted(page for page in tracked if page.startswith("reports/") and page.endswith("report.md"))]
    missing = []
    for page in pages:
        for target in re.findall(r"\]\(([^)\s]+)\)", (REPO / page).read_text()):
            if re.match(r"[a-z]+:|#", target):
                continue
            path = (REPO / page).parent.joinpath(target.split("#")[0]).resolve()
            relative = path.relative_to(REPO.resolve()).as_posix()
            if relative not in tracked and not any(name.startswith(relative + "/") for name in tracked):
                missing.append(f"{page} -> {target}")
    assert not missing, missing


def test_every_anchor_the_committed_report_links_to_is_a_heading_of_its_page():
    page = (REPO / "reports" / "index.html").read_text()
    anchors = set(re.findall(r"\]\(#([^)\s]+)\)", (REPO / "reports" / "report.md").read_text()))
    assert anchors and not [anchor for anchor in anchors if f'id="{anchor}"' not in page]


def test_the_committed_report_quotes_the_confirmation_beside_each_primary_finding_it_discusses():
    report = " ".join((REPO / "reports" / "report.md").read_text().split())
    confirm = pd.read_csv(REPO / "reports" / "tables" / "agreement_confirm.csv").set_index("key")
    body = report[report.index("## 1. The effect"):report.index("## 5. Where the gap lives")]
    for key in ("headline", "mechanism", "zero_state_remark", "zero_state_learnable", "real_ACSF1_gap"):
        row = confirm.loc[key]
        assert f"; on new seeds: {row['other_verdict']}, {row['other_estimate']})" in body, key
