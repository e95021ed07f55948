"""dvc.yaml says what each stage depends on, and the code says what each stage imports: they agree. And the paths,
stage names and matrix axes that dvc.yaml spells are those the code uses (`Layout`, the family table)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml
from conftest import REPO, TINY

from stages.core.files import Layout
from stages.core.params import FAMILY, cells, parse_params, probe_cells

DVC_YAML = yaml.safe_load((REPO / "dvc.yaml").read_text())
CODE = DVC_YAML["vars"][0]["code"]  # unit name -> folder


def _module_file(module: str) -> Path | None:
    """The project file of a dotted module name, or None for a module outside the project."""
    if module.split(".")[0] not in ("stages", "tools"):
        return None
    path = REPO / Path(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def _imports(path: Path) -> set[str]:
    """Every project module a file imports, at any depth of its code (function-level imports too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # `from stages.core import command` imports the module stages.core.command
            found |= {f"{node.module}.{alias.name}" for alias in node.names
                      if (_module_file(f"{node.module}.{alias.name}") or Path("/nonexistent")).is_file()}
    return {module for module in found if _module_file(module) is not None}


def closure(module: str) -> set[Path]:
    """The project files a module's import reaches, itself included, relative to the repository."""
    found, todo = set(), [module]
    while todo:
        path = _module_file(todo.pop())
        if path in found or not path.is_file():
            continue
        found.add(path)
        todo += sorted(_imports(path))
        parts = path.relative_to(REPO).parent.parts  # importing a.b.c runs a/__init__.py and a/b/__init__.py
        todo += [".".join(parts[:depth]) for depth in range(1, len(parts) + 1)]
    return {path.relative_to(REPO) for path in found if path.stat().st_size or path.name != "__init__.py"}


def _unit(path: Path) -> str:
    """What a file counts as in dvc.yaml: the folder of a `code` unit that holds it, else the file itself."""
    return next((folder for folder in CODE.values() if Path(folder) in path.parents), str(path))


def _code_deps(stage: dict) -> set[str]:
    deps = stage.get("do", stage)["deps"]
    resolved = {dep.replace("${code.", "").rstrip("}") for dep in deps}
    resolved = {CODE.get(dep, dep) for dep in resolved}
    return {dep for dep in resolved if dep.startswith(("stages/", "tools/")) or dep.endswith(".py")}


def _command_module(stage: dict) -> str:
    command = stage.get("do", stage)["cmd"].split()
    return command[command.index("-m") + 1]


@pytest.mark.parametrize("name", list(DVC_YAML["stages"]))
def test_every_stage_depends_on_exactly_the_code_it_imports(name):
    stage = DVC_YAML["stages"][name]
    imported = {_unit(path) for path in closure(_command_module(stage))}
    assert _code_deps(stage) == imported, name


@pytest.mark.parametrize("name", list(DVC_YAML["stages"]))
def test_a_folder_a_stage_depends_on_holds_no_module_it_does_not_import(name):
    # A folder stands for its modules only if the stage imports every one: else an edit to a module it never runs
    # would rerun it (a stage's results would look stale when they are not).
    stage = DVC_YAML["stages"][name]
    reached = closure(_command_module(stage))
    for folder in _code_deps(stage) & set(CODE.values()):
        modules = {path.relative_to(REPO) for path in (REPO / folder).glob("*.py")
                   if path.stat().st_size or path.name != "__init__.py"}
        assert modules <= reached, f"{name} depends on {folder} but never imports {sorted(map(str, modules - reached))}"


def test_the_report_imports_no_training_code():
    reached = closure(_command_module(DVC_YAML["stages"]["report"]))
    assert not [path for path in reached if str(path).startswith(CODE["learning"])]
    assert not {Path(f"stages/{name}.py") for name in ("train", "evaluate", "probe")} & reached


def test_no_module_imports_a_higher_layer():
    # core < learning < commands; core < reporting < the report command; tools sit on top and nothing imports them.
    layer = {"stages/core": 0, "stages/learning": 1, "stages/reporting": 1}
    for path in sorted((REPO / "stages").rglob("*.py")):
        mine = path.relative_to(REPO)
        rank = next((rank for folder, rank in layer.items() if Path(folder) in mine.parents), 2)
        for module in _imports(path):
            other = _module_file(module).relative_to(REPO)
            assert not str(other).startswith("tools/"), f"{mine} imports the tool {other}"
            other_rank = next((rank for folder, rank in layer.items() if Path(folder) in other.parents), 2)
            assert other_rank < rank or other.parent == mine.parent, f"{mine} imports {other}, a higher layer"
            if rank == 1:
                assert other.parent == mine.parent or other_rank == 0, f"{mine} imports {other}, a sibling layer"


def _stage_outs(stage: dict) -> list[str]:
    return stage.get("do", stage)["outs"]


def _expand(template: str, cell, item) -> str:
    """A dvc.yaml path for one cell: its key, its matrix item, and the parameters it names (e.g. onset.data_type)."""
    text = template.replace("${key}", cell.key)
    for axis, value in item.items():
        text = text.replace(f"${{item.{axis}}}", str(value))
    return re.sub(r"\$\{(\w+)\.(\w+)\}", lambda m: str(TINY.get(m[1], {}).get(m[2], m[0])), text)


def test_dvc_yaml_writes_each_cell_where_the_layout_says():
    params, layout = parse_params(TINY), Layout()
    probed = probe_cells(params)
    for cell in cells(params):
        family = FAMILY[cell.family]
        item = {axis: getattr(cell, axis) for axis in family.axes}
        item["dataset"] = cell.data_type  # the real family's matrix names its data set axis so
        expected = {str(layout.training(cell)), str(layout.timing_of(cell, "train"))}
        assert {_expand(out, cell, item) for out in _stage_outs(DVC_YAML["stages"][family.train_stage])} == expected
        assert str(layout.data_of(cell)) in {_expand(dep, cell, item)
                                             for dep in DVC_YAML["stages"][family.train_stage]["deps"]}
        if cell.evaluated:
            outs = {_expand(out, cell, item) for out in _stage_outs(DVC_YAML["stages"][family.evaluate_stage])}
            assert outs == {str(layout.evaluation(cell)), str(layout.timing_of(cell, "evaluate"))}
        if cell.name in probed:
            outs = {_expand(out, cell, item) for out in _stage_outs(DVC_YAML["stages"][family.probe_stage])}
            assert outs == {str(layout.probing(cell)), str(layout.recording(cell)),
                            str(layout.timing_of(cell, "probe"))}


def test_the_family_table_names_the_stages_and_axes_of_dvc_yaml():
    stages = DVC_YAML["stages"]
    axis_names = {"data_type": {"data_type", "dataset"}}  # the real family's matrix calls its data set `dataset`
    for name, family in FAMILY.items():
        for stage in (family.train_stage, family.evaluate_stage):
            if stage is None:
                continue
            matrix = stages[stage]["matrix"]
            assert len(matrix) == len(family.axes), stage
            for axis, spelt in zip(family.axes, matrix):
                assert spelt in axis_names.get(axis, {axis}), (stage, axis, spelt)
        if family.probe_stage:
            assert "foreach" in stages[family.probe_stage], family.probe_stage
