"""Stage `report`: gather every cell of params.yaml into tidy tables, decide the findings and controls, draw the
figures, and write `reports/`: report.md, its HTML twin index.html, the tables, the figures, and the study's metrics
file findings.json (what `dvc exp show` compares between experiments). It also rewrites the README's block of
primary findings between its markers, so that the front door never shows stale numbers.

    python -m stages.report        # reads data/, and the profiles' published reports in reports/<profile>/
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from stages.core import command
from stages.core.files import Layout, require_file
from stages.core.params import Params
from stages.reporting.compose import write_report
from stages.reporting.gather import Gathered, gather_all, required_files
from stages.reporting.plan import Plan, expand, load_plan


def arguments(parser) -> None:
    parser.add_argument("--root", type=Path, default=Layout.root, help="the pipeline's data folder (default: data)")
    parser.add_argument("--out", type=Path, default=Path("reports"), help="where the report goes (default: reports)")
    parser.add_argument("--published", type=Path, default=Path("reports"),
                        help="the folder of the profiles' published reports, <profile>/ each (default: reports)")
    parser.add_argument("--readme", type=Path, default=Path("README.md"),
                        help="a README whose primary-findings block to rewrite (default: README.md, where it has one)")


@dataclass(frozen=True)
class Job:
    params: Params
    layout: Layout
    out: Path
    published: Path
    plan: Plan
    readme: Path


def prepare(args, params: Params) -> Job:
    plan = load_plan()  # the analysis plan, checked; a bad entry stops here, naming the finding and the key
    expand(plan, params)
    layout = Layout(args.root)
    for path, what in required_files(params, layout):  # every input present before anything is drawn
        require_file(path, what)
    return Job(params, layout, args.out, args.published, plan, args.readme)


def work(job: Job) -> None:
    gathered: Gathered = gather_all(job.params, job.layout)
    write_report(job.params, gathered, job.out, job.published, job.plan, job.readme)
    print(f"wrote {job.out / 'report.md'} and {job.out / 'index.html'}")


def main(argv: list[str] | None = None) -> int:
    return command.run(__doc__, arguments, prepare, work, argv)


if __name__ == "__main__":
    sys.exit(main())
