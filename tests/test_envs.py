"""Every rule's conda env provides what its script imports, and pins its versions.

A job run with `--sdm conda` sees only its rule's `conda:` env (plus dnatune on
PYTHONPATH and Snakemake's own package, which the script preamble puts on sys.path), so a
module missing there fails only on a user's machine. The imports are found statically
(`ast`), from the rule's script through every dnatune module it reaches, function-level
imports included: nothing is executed, so the check needs neither conda nor the packages.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
RULES_DIR = ROOT / "workflow" / "rules"
SRC = ROOT / "src"

# import name -> conda package name, where they differ (conda-forge / bioconda names)
CONDA_NAMES = {
    "sklearn": "scikit-learn",
    "yaml": "pyyaml",
    "isal": "python-isal",
    "torch": "pytorch",
    "PIL": "pillow",
    "jinja2": "jinja2",
}
# importable in every job without the env: Snakemake's script preamble adds its own
# package to sys.path (dnatune.config imports snakemake.utils only in the main process)
PROVIDED = {"snakemake", "dnatune"}


def rule_envs_and_scripts() -> dict[str, tuple[Path | None, Path]]:
    """rule name -> (its conda env file or None, its script), from workflow/rules/*.smk."""
    found = {}
    for smk in sorted(RULES_DIR.glob("*.smk")):
        blocks = re.split(r"^rule (\w+):\n", smk.read_text(), flags=re.M)
        for name, body in zip(blocks[1::2], blocks[2::2], strict=True):
            script = re.search(r'^\s+script:\n\s+"([^"]+)"', body, flags=re.M)
            if script is None:
                continue  # a shell or run rule: no script to check
            env = re.search(r'^\s+conda:\n\s+"([^"]+)"', body, flags=re.M)
            env_path = (RULES_DIR / env.group(1)).resolve() if env else None
            found[name] = (env_path, (RULES_DIR / script.group(1)).resolve())
    return found


def module_file(dotted: str) -> Path | None:
    """src/ file of a dnatune module or package, None when there is no such module."""
    base = SRC.joinpath(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_names(path: Path, package: str) -> set[str]:
    """Absolute dotted names `path` imports anywhere in it (relative imports resolved)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module
            names.add(module)
            # `from dnatune.corpus import windows` imports the module dnatune.corpus.windows
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def third_party_imports(script: Path) -> dict[str, str]:
    """Top-level third-party modules the script needs -> the file that imports each."""
    needed: dict[str, str] = {}
    todo, seen = [(script, "")], set()
    while todo:
        path, package = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in imported_names(path, package):
            top = name.split(".")[0]
            if top == "dnatune":
                target = module_file(name)
                if target is not None:
                    parent = name if target.name == "__init__.py" else name.rpartition(".")[0]
                    todo.append((target, parent))
            elif top not in sys.stdlib_module_names and top not in PROVIDED:
                needed.setdefault(top, str(path.relative_to(ROOT)))
    return needed


def conda_packages(env_file: Path) -> dict[str, str]:
    """Package name -> version pin ('' when unpinned) of an env file."""
    packages = {}
    for dep in yaml.safe_load(env_file.read_text())["dependencies"]:
        spec = dep.split("::")[-1]  # channel::package
        name, _, pin = re.match(r"([A-Za-z0-9_.-]+)\s*(=+)?\s*(\S*)", spec).groups()
        packages[name.lower()] = pin
    return packages


def missing_from_env(script: Path, env_file: Path) -> dict[str, str]:
    """conda package -> importing file, for each module the env does not provide."""
    available = conda_packages(env_file)
    return {
        CONDA_NAMES.get(module, module).lower(): where
        for module, where in third_party_imports(script).items()
        if CONDA_NAMES.get(module, module).lower() not in available
    }


RULES = rule_envs_and_scripts()


def test_rules_with_scripts_are_found():
    # the regex parse above must see the workflow's rules, or every check below is vacuous
    assert {"build_task", "finetune", "report", "pretrain", "corpus"} <= set(RULES)


@pytest.mark.parametrize("rule", sorted(RULES))
def test_rule_env_provides_every_module_its_script_imports(rule):
    env_file, script = RULES[rule]
    assert env_file is not None, f"rule {rule} has a script but no conda: env"
    missing = missing_from_env(script, env_file)
    assert not missing, (
        f"rule {rule} runs {script.relative_to(ROOT)} in {env_file.relative_to(ROOT)}, "
        f"which lacks {sorted(missing)} (imported by {missing}); add them to the env"
    )


@pytest.mark.parametrize("env_file", sorted((ROOT / "envs").glob("*.yaml")), ids=lambda p: p.name)
def test_env_versions_are_pinned(env_file):
    unpinned = [name for name, pin in conda_packages(env_file).items() if not pin]
    assert not unpinned, f"{env_file.relative_to(ROOT)}: pin {unpinned} (name =version)"


def test_a_module_missing_from_an_env_is_found(tmp_path):
    """The check fails for an env lacking scikit-learn (which build_task imports)."""
    env_file, script = RULES["build_task"]
    env = yaml.safe_load(env_file.read_text())
    env["dependencies"] = [d for d in env["dependencies"] if not d.startswith("scikit-learn")]
    trimmed = tmp_path / "genome.yaml"
    trimmed.write_text(yaml.safe_dump(env))
    assert missing_from_env(script, env_file) == {}
    assert set(missing_from_env(script, trimmed)) == {"scikit-learn"}


def test_imports_are_followed_through_dnatune():
    """build_task's script imports no sklearn itself: dnatune.tasks.build -> tasks.split
    and tasks.folds do."""
    needed = third_party_imports(RULES["build_task"][1])
    assert needed["sklearn"] in {"src/dnatune/tasks/split.py", "src/dnatune/tasks/folds.py"}
    assert not {"os", "json", "dnatune", "snakemake"} & set(needed)


def test_relative_imports_resolve_to_dnatune_modules(tmp_path):
    module = tmp_path / "mod.py"
    module.write_text("from . import windows\nfrom ..corpus import shards\nfrom .x import y\n")
    assert imported_names(module, "dnatune.genome") >= {
        "dnatune.genome.windows",
        "dnatune.corpus",
        "dnatune.corpus.shards",
        "dnatune.genome.x",
    }
