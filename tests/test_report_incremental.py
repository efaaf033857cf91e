"""Adding a task to a finished run schedules only that task's cells, the stats and the report."""

from __future__ import annotations

import copy
import re

import pytest
from conftest import run_snakemake, tiny_config, write_config

from dnatune.config import grid


def job_counts(dry_run_output: str) -> dict[str, int]:
    """{rule: jobs} from the 'Job stats' table of `snakemake -n` (the target rule `all` left out)."""
    counts = {}
    table = dry_run_output.split("Job stats:", 1)[1]
    for line in table.splitlines()[3:]:
        match = re.match(r"^(\S+)\s+(\d+)$", line.strip())
        if not match or match.group(1) == "total":
            break
        if match.group(1) != "all":
            counts[match.group(1)] = int(match.group(2))
    return counts


@pytest.mark.workflow
def test_adding_a_task_runs_only_its_cells_the_stats_and_the_report(tiny_run):
    config = tiny_config()
    nothing = run_snakemake(tiny_run, "-n", "--cores", "1")
    assert "Nothing to be done" in nothing.stdout + nothing.stderr, "the tiny run is incomplete"

    extended = copy.deepcopy(config)
    new_task = {
        "type": "binary",
        "source": {
            "annotation": {"genome": "demo", "feature": "CDS", "length": 100, "max_per_class": 150}
        },
    }
    extended["tasks"]["coding"] = new_task
    workdir = tiny_run
    original = (workdir / "config.yaml").read_text()
    try:
        write_config(workdir, extended)
        proc = run_snakemake(workdir, "-n", "--cores", "1")
    finally:
        (workdir / "config.yaml").write_text(original)
    new_cells = [c for c in grid(extended) if c.task == "coding"]
    output = proc.stdout + proc.stderr
    assert job_counts(output) == {
        "build_task": 1,
        "finetune": len(new_cells),
        "evaluate": len(new_cells),
        "summary": 1,
        "stats": 1,
        "report": 1,
    }
    assert "task=promoter" not in output  # no job of the existing task
