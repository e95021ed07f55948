"""Run the study under a profile: `profiles/<name>.yaml` lists the parameters that differ from `params.yaml`.

    python -m tools.profiles paper

The run happens in its own clone of this repository at the current commit (`.profiles/<name>/`, ignored by git and
DVC), with `params.yaml` there replaced by the merged parameters, so the quick study's outputs and cache are never
touched. Running the same command again resumes: DVC skips every stage already done (its run-cache), and a cell cut
off mid-training resumes from its per-epoch checkpoint. When `dvc repro` finishes, the profile's report, its merged
parameters and its `dvc.lock` are copied to `reports/<name>/`, where the quick report reads them (agreement table).

A clone follows this repository's commits: each run first moves it to the current commit, keeping its own
`dvc.lock`. Only stages whose code, data or parameters changed then rerun (a change to the report code reruns the
report alone).
"""

from __future__ import annotations

import argparse
import copy
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from stages.core.params import ParamsError, parse_params
from stages.reporting.published import MAPPING_PARAMS

REPO = Path(__file__).resolve().parents[1]
# What a profile run publishes, relative to its clone, copied to reports/<name>/.
PUBLISHED = ["reports/report.md", "reports/index.html", "reports/findings.json", "reports/figures", "reports/tables",
             "reports/plots", "dvc.lock", "params.yaml"]
# Left out of the publication: every update's loss in the last epoch, per seed (25 MB for the real profile). The
# figure drawn from it is published with its data (figures/loss_last_epoch.csv); the table stays in the clone.
UNPUBLISHED_TABLES = ["last_epoch.csv"]


class ProfileError(RuntimeError):
    """A profile that cannot run; the message names the file or key."""


def merge(base: dict, overrides: dict, prefix: str = "") -> dict:
    """`base` with `overrides` applied key by key; a key that `base` lacks is an error naming it (a typo in a profile
    would otherwise be silently ignored)."""
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        dotted = f"{prefix}{key}"
        if key not in merged:
            raise ProfileError(f"{dotted}: unknown key (params.yaml has no such key)")
        if isinstance(value, dict) and isinstance(merged[key], dict) and value and dotted not in MAPPING_PARAMS:
            merged[key] = merge(merged[key], value, f"{dotted}.")
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def profile_params(name: str, repo: Path = REPO) -> dict:
    """The merged parameters of profile `name`, validated like params.yaml (an error names the bad key)."""
    path = repo / "profiles" / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in (repo / "profiles").glob("*.yaml"))
        raise ProfileError(f"profile {name!r}: {path} not found (profiles: {', '.join(known) or 'none'})")
    base = yaml.safe_load((repo / "params.yaml").read_text())
    overrides = yaml.safe_load(path.read_text()) or {}
    if not isinstance(overrides, dict):
        raise ProfileError(f"{path}: expected a mapping of parameter sections, got {overrides!r}")
    try:
        merged = merge(base, overrides)
    except ProfileError as error:
        raise ProfileError(f"{path}: {error}") from None
    try:
        parse_params(merged, str(path))
    except ParamsError as error:
        raise ProfileError(str(error)) from None
    return merged


def _git(*args: str, cwd: Path) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if result.returncode:
        raise ProfileError(f"git {' '.join(args)} in {cwd} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def prepare_clone(repo: Path, workdir: Path, params: dict) -> str:
    """Clone `repo` into `workdir` (or reuse the clone), move it to the repository's current commit and write the
    profile's parameters there. Returns the commit."""
    commit = _git("rev-parse", "HEAD", cwd=repo)
    if not (workdir / ".git").is_dir():
        if workdir.exists() and any(workdir.iterdir()):
            raise ProfileError(f"{workdir}: exists and is not a clone of this repository; remove it or pass --workdir")
        workdir.parent.mkdir(parents=True, exist_ok=True)
        _git("clone", "--quiet", "--no-hardlinks", str(repo), str(workdir), cwd=repo)
    if _git("remote", "get-url", "origin", cwd=workdir) != str(repo):
        raise ProfileError(f"{workdir}: a clone of another repository; remove it or pass --workdir")
    if _git("rev-parse", "HEAD", cwd=workdir) != commit:
        _git("fetch", "--quiet", "origin", cwd=workdir)
        # dvc.lock describes the outputs in the clone, which the checkout keeps, so it stays: the stages whose code
        # the new commit leaves alone stay done. Every other tracked file becomes the commit's.
        lock = workdir / "dvc.lock"
        kept = lock.read_bytes() if lock.is_file() else None
        _git("checkout", "--quiet", "--force", "--detach", commit, cwd=workdir)
        if kept is not None:
            lock.write_bytes(kept)
    (workdir / "params.yaml").write_text(
        "# Written by `python -m tools.profiles`: params.yaml merged with the profile's overrides.\n"
        + yaml.safe_dump(params, sort_keys=False)
    )
    return commit


def publish(workdir: Path, target: Path) -> None:
    """Copy the run's report, parameters and lock to `target`, replacing what an earlier run left there; written to
    a temporary folder first, so an interrupted copy never leaves half a report."""
    staging = target.with_name(f".{target.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in PUBLISHED:
        source = workdir / name
        if not source.exists():
            raise ProfileError(f"{source}: missing after the run; nothing was published")
        destination = staging / Path(name).name
        if source.is_dir():
            skipped = UNPUBLISHED_TABLES if name == "reports/tables" else []
            shutil.copytree(source, destination, ignore=shutil.ignore_patterns(*skipped))
        else:
            shutil.copy2(source, destination)
    keep = target / "README.md"  # the profile's committed description stays
    if keep.is_file():
        shutil.copy2(keep, staging / "README.md")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)


def run_profile(name: str, repo: Path = REPO, workdir: Path | None = None) -> int:
    # The clone runs the last commit, so the parameters it merges must be that commit's too.
    edited = _git("status", "--porcelain", "--", "params.yaml", f"profiles/{name}.yaml", cwd=repo)
    if edited:
        raise ProfileError(f"params.yaml or profiles/{name}.yaml has uncommitted changes; commit them first (the "
                           f"profile runs the last commit): {edited}")
    params = profile_params(name, repo)
    workdir = workdir or repo / ".profiles" / name
    if subprocess.run(["git", "diff", "--quiet", "HEAD"], cwd=repo).returncode:
        print(f"note: uncommitted changes in {repo} are not part of the profile run (it runs the last commit)",
              flush=True)
    commit = prepare_clone(repo, workdir, params)
    print(f"[profile {name}] running commit {commit[:10]} in {workdir}", flush=True)
    started = time.monotonic()
    # The stages run `python -m ...`: make that this interpreter, whether or not its environment is activated.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    code = subprocess.run([sys.executable, "-m", "dvc", "repro"], cwd=workdir, env=env).returncode
    print(f"[profile {name}] dvc repro exited with {code} after {time.monotonic() - started:.0f} s", flush=True)
    if code:
        return code
    publish(workdir, repo / "reports" / name)
    print(f"[profile {name}] report published in {repo / 'reports' / name}", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", help="profile: profiles/<name>.yaml")
    parser.add_argument("--workdir", type=Path, help="the profile's clone (default: .profiles/<name>)")
    parser.add_argument("--check", action="store_true", help="validate the profile's parameters and stop")
    args = parser.parse_args(argv)
    try:
        if args.check:
            profile_params(args.name)
            print(f"profile {args.name}: parameters valid")
            return 0
        return run_profile(args.name, workdir=args.workdir)
    except ProfileError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
