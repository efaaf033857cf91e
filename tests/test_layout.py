"""The package shows the stages, and stays easy to live in.

src/dnatune/ holds one subpackage per stage, in data-flow order, and a few shared leaves
(atomic, logs, config, metrics, ...). A stage imports only from itself, from stages
upstream of it and from the leaves; a leaf imports no stage. Modules, functions and
classes stay under the sizes below unless listed in KEPT_WHOLE with the reason.
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "dnatune"
# data-flow order; stages of one rank may not import each other
STAGE_RANK = {
    "genome": 0,
    "corpus": 1,
    "tasks": 2,
    "train": 3,
    "baselines": 3,
    "evaluate": 4,
    "stats": 5,
    "apply": 5,  # applies trained cells; the report shows its tables
    "report": 6,
}
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
MAX_CLASS_LINES = 200
# (path relative to src/dnatune, or path::name) -> why it reads better whole
KEPT_WHOLE: dict[str, str] = {}


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def stage_of(path: Path) -> str | None:
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else None


def imported_stages(path: Path) -> set[str]:
    stages = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            if node.module == "dnatune":
                names += [f"dnatune.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "dnatune" and len(parts) > 1 and parts[1] in STAGE_RANK:
                stages.add(parts[1])
    return stages


def test_every_subpackage_is_a_known_stage():
    packages = {p.parent.name for p in PACKAGE.rglob("__init__.py") if p.parent != PACKAGE}
    assert packages <= set(STAGE_RANK) | {"templates"}, packages - set(STAGE_RANK)


def test_stages_import_only_upstream_and_leaves():
    wrong = []
    for path in modules():
        own = stage_of(path)
        for stage in imported_stages(path):
            if own is None:
                wrong.append(f"{path.name} is a shared leaf but imports the stage {stage}")
            elif stage != own and STAGE_RANK[stage] >= STAGE_RANK[own]:
                wrong.append(f"{own}/{path.name} imports {stage}, which is not upstream of it")
    assert not wrong, "\n".join(wrong)


def code_lines(node: ast.AST) -> int:
    """Lines of a function or class, its docstring left out (documentation is not length)."""
    lines = node.end_lineno - node.lineno + 1
    first = node.body[0]
    if isinstance(first, ast.Expr) and isinstance(getattr(first.value, "value", None), str):
        lines -= first.end_lineno - first.lineno + 1
    return lines


def oversized() -> list[str]:
    found = []
    for path in modules():
        rel = str(path.relative_to(PACKAGE))
        text = path.read_text()
        if len(text.splitlines()) > MAX_MODULE_LINES and rel not in KEPT_WHOLE:
            found.append(f"{rel}: {len(text.splitlines())} lines > {MAX_MODULE_LINES}")
        for node in ast.walk(ast.parse(text)):
            limit = (
                MAX_CLASS_LINES
                if isinstance(node, ast.ClassDef)
                else MAX_FUNCTION_LINES
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                else None
            )
            if limit is None:
                continue
            lines = code_lines(node)
            if lines > limit and f"{rel}::{node.name}" not in KEPT_WHOLE:
                found.append(f"{rel}::{node.name}: {lines} lines > {limit}")
    return found


def test_modules_functions_and_classes_stay_small():
    found = oversized()
    assert not found, "split these, or keep one whole in KEPT_WHOLE with the reason:\n" + (
        "\n".join(found)
    )


def test_kept_whole_entries_still_exist():
    for key in KEPT_WHOLE:
        assert (PACKAGE / key.split("::")[0]).exists(), key
