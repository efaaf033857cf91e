"""The report's variant-effect section, from auroc.tsv tables."""

from __future__ import annotations

import dataclasses

import pandas as pd
from report_fixtures import make_grid

from dnatune.report.render import build_report
from dnatune.report.variants import read_auroc, variant_section

AUROC = pd.DataFrame(
    {
        "score": ["SV_t_m_pretrained_f1_s0", "ZS_m_pretrained", "ZS_m_scratch"],
        "group": ["all"] * 3,
        "kind": ["supervised", "zero_shot", "zero_shot"],
        "model": ["m", "m", "m"],
        "variant": ["pretrained", "pretrained", "scratch"],
        "task": ["t", None, None],
        "label_fraction": [1.0, None, None],
        "seed": [0, None, None],
        "n_broken": [40, 40, 40],
        "n_background": [40, 40, 40],
        "auroc": [0.71234, 0.65, 0.5],
        "ci_low": [0.6, 0.55, 0.4],
        "ci_high": [0.8, 0.75, 0.6],
        "confidence": [0.95] * 3,
    }
)


def test_rows_put_zero_shot_first_and_scratch_before_pretrained(tmp_path):
    by_element = AUROC.assign(group="TATA_box", auroc=[0.9, 0.8, 0.45])
    pd.concat([AUROC, by_element]).to_csv(tmp_path / "auroc.tsv", sep="\t", index=False)
    section = variant_section([str(tmp_path / "auroc.tsv")])
    rows = section["rows"]
    assert [r[:3] for r in rows] == [
        ["zero-shot LLR", "m", "scratch"],
        ["zero-shot LLR", "m", "pretrained"],
        ["supervised Δ", "m", "pretrained"],
    ]
    assert rows[2][3] == "t (f1, s0)" and rows[2][6] == "0.712" and rows[2][7] == "0.600 – 0.800"
    assert section["group_headers"] == ["model", "variant", "task (cell)", "TATA_box"]
    assert [r[-1] for r in section["group_rows"]] == ["0.450", "0.800", "0.900"]
    assert variant_section([]) is None and read_auroc([]).empty


def test_the_section_appears_only_with_a_table(tmp_path):
    grid = make_grid(tmp_path / "grid", fractions=(1.0,), seeds=(0,), n_test=40)
    grid.write_summary_and_stats(n_boot=20)
    inputs = grid.report_inputs()
    page, _ = build_report(inputs, grid.config, n_boot=20)
    assert 'id="variants"' not in page
    AUROC.to_csv(tmp_path / "auroc.tsv", sep="\t", index=False)
    inputs = dataclasses.replace(inputs, variant_auroc=[str(tmp_path / "auroc.tsv")])
    page, _ = build_report(inputs, grid.config, n_boot=20)
    assert 'id="variants"' in page and 'href="#variants"' in page and "0.712" in page
