"""Throughput figures: counts on hand-built batches, the MFU arithmetic, and the run records."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch
from model_fixtures import pretrain_args, tiny_classifier, tiny_setup

from dnatune.report import overview as report_overview
from dnatune.report.formatting import DASH
from dnatune.train import pretrain
from dnatune.train.throughput import ThroughputCallback, batch_counts, peak_flops

PADDED = {
    "input_ids": torch.tensor([[2, 5, 6, 7, 0, 0], [2, 5, 6, 7, 8, 9], [2, 5, 0, 0, 0, 0]]),
    "attention_mask": torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1], [1, 1, 0, 0, 0, 0]]),
    "labels": torch.tensor([0, 1, 0]),
}


def test_padding_is_excluded_exactly():
    assert batch_counts(PADDED) == (3, 12, 18)


def test_a_packed_row_counts_its_sequences_and_no_padding():
    packed = {
        "input_ids": torch.tensor([[2, 5, 6, 2, 5, 2, 5, 6, 7]]),
        "position_ids": torch.tensor([[0, 1, 2, 0, 1, 0, 1, 2, 3]]),
    }
    assert batch_counts(packed) == (3, 9, 9)


def test_the_callback_counts_training_forwards_only():
    model = tiny_classifier()
    meter = ThroughputCallback(model, "fp32", stage="finetune")
    model.train()
    meter.on_train_begin(None, None, None)
    meter.on_step_begin(None, None, None)
    model(**PADDED)
    model(**{k: v[:2] for k, v in PADDED.items()})  # a second micro-batch of the step
    meter.on_step_end(None, None, None)
    model.eval()
    with torch.no_grad():
        model(**PADDED)  # evaluation: not counted
    meter.on_train_end(None, None, None)

    record = meter.record
    assert (record["samples"], record["real_tokens"], record["positions"]) == (5, 22, 30)
    assert record["padding_fraction"] == pytest.approx(8 / 30)
    assert record["tokens_per_second"] == pytest.approx(22 / record["step_seconds"])
    assert record["samples_per_second"] == pytest.approx(5 / record["step_seconds"])
    assert record["mfu"] is None and record["peak_gpu_mb"] is None  # no GPU here
    assert record["peak_rss_mb"] > 50  # torch alone is more than that
    embedding = model.get_input_embeddings().weight.numel()
    params = sum(p.numel() for p in model.parameters())
    assert record["model_flops_per_token"] == 6 * (params - embedding)


@pytest.mark.parametrize(
    ("name", "flops"),
    [
        ("NVIDIA A100-SXM4-80GB", 312e12),
        ("NVIDIA H100 80GB HBM3", 989e12),
        ("NVIDIA H100 PCIe", 756e12),
        ("NVIDIA H200", 989e12),
        ("NVIDIA L40S", 362e12),
        ("NVIDIA GeForce RTX 3090", None),
    ],
)
def test_peak_flops_by_device_name(name, flops):
    assert peak_flops(name) == flops


def test_mfu_on_a_known_gpu_in_bf16_only(monkeypatch):
    """The GPU calls are replaced, so the arithmetic is checked on a CPU machine."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "NVIDIA H200")
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda *a: 3 * 2**30)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda *a: None)
    for precision, expect_mfu in (("bf16", True), ("fp32", False)):
        meter = ThroughputCallback(tiny_classifier(), precision, stage="pretrain")
        meter.real, meter.positions, meter.samples, meter.step_seconds = 1000, 1200, 10, 2.0
        record = meter.figures()
        assert record["peak_gpu_mb"] == 3 * 1024
        if expect_mfu:
            assert record["mfu"] == pytest.approx(meter.flops_per_token * 500 / 989e12)
        else:
            assert record["mfu"] is None


def test_pretraining_records_its_throughput(tmp_path):
    setup = tiny_setup(tmp_path, "bert")
    summary = pretrain.main(pretrain_args(tmp_path, setup, max_steps=4, save_steps=4))
    saved = json.loads((tmp_path / "out" / pretrain.SUMMARY).read_text())["throughput"]
    assert saved == summary["throughput"]
    # every corpus window has 64 tokens: 4 steps of 16 windows, no padding
    assert (saved["samples"], saved["real_tokens"], saved["positions"]) == (64, 64 * 64, 64 * 64)
    assert saved["padding_fraction"] == 0
    assert saved["tokens_per_second"] > 0 and saved["stage"] == "pretrain"
    assert set(saved) >= {"samples_per_second", "peak_rss_mb", "peak_gpu_mb", "mfu"}


def test_finetuning_records_its_throughput(tmp_path):
    from test_finetune import SPEC, make_task, run_cell

    from dnatune.corpus.tokenizers import DnaTokenizer, build_tokenizer
    from dnatune.train.models import init_scratch_model

    build_tokenizer({"kind": "char"}, tmp_path / "tokenizer")
    init_scratch_model(SPEC, tmp_path / "tokenizer", tmp_path / "model", seed=0)
    task = make_task(tmp_path / "gc", sizes=(40, 16, 16))
    history = run_cell(
        tmp_path / "model", task, tmp_path / "cell", epochs=2, early_stopping_patience=0
    )
    saved = json.loads((tmp_path / "cell" / "history.json").read_text())["throughput"]
    assert saved == history["throughput"]
    sequences = pd.read_parquet(task / "train.parquet")["sequence"].tolist()
    lengths = [
        len(ids) for ids in DnaTokenizer.from_pretrained(tmp_path / "model")(sequences)["input_ids"]
    ]
    # two epochs of every train sequence, padding excluded exactly
    assert (saved["samples"], saved["real_tokens"]) == (80, 2 * sum(lengths))
    assert saved["positions"] >= saved["real_tokens"]
    assert saved["padding_fraction"] == pytest.approx(1 - saved["real_tokens"] / saved["positions"])
    assert saved["stage"] == "finetune" and saved["tokens_per_second"] > 0


def record(stage, tokens_per_second, real, positions, rss, gpu=None, mfu=None) -> dict:
    return {
        "stage": stage,
        "tokens_per_second": tokens_per_second,
        "samples_per_second": tokens_per_second / 100,
        "real_tokens": real,
        "positions": positions,
        "peak_rss_mb": rss,
        "peak_gpu_mb": gpu,
        "mfu": mfu,
    }


def test_the_run_time_table_shows_each_training_stages_throughput(tmp_path):
    header = "s\th:m:s\tmax_rss\n"
    for rule, rss in (("pretrain", 900), ("finetune", 400), ("finetune", "NA"), ("tasks", 200)):
        path = tmp_path / rule / f"{len(list(tmp_path.glob(f'{rule}/*')))}.tsv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(header + f"10.0\t0:00:10\t{rss}\n")
    records = [
        record("finetune", 3000.0, 75, 100, 500.0),
        record("finetune", 1000.0, 25, 100, 700.0),
        record("finetune", 2000.0, 50, 100, 600.0),
        record("pretrain", 12345.6, 1000, 1000, 800.0, gpu=2048.0, mfu=0.41),
        {},  # a job that only finished a killed run: no record
    ]
    training = report_overview.training_throughput(records)
    assert training["finetune"]["tokens_per_second"] == 2000
    assert training["finetune"]["padding_fraction"] == pytest.approx(0.5)  # 150 of 300
    rows = {row[0]: row for row in report_overview.run_time_rows(tmp_path, training)}
    #      rule, jobs, total s, longest s, peak MB, tokens/s, samples/s, padding %, GPU MB, MFU %
    assert rows["finetune"][4:] == ["700", "2,000", "20.0", "50.0", DASH, DASH]
    assert rows["pretrain"][4:] == ["900", "12,346", "123", "0.0", "2,048", "41.0"]
    assert rows["tasks"][5:] == [DASH] * 5


def test_the_report_shows_training_throughput(tmp_path):
    from report_fixtures import TASKS, make_grid

    from dnatune.report.render import build_report

    grid = make_grid(tmp_path, {"promoter": TASKS["promoter"]}, fractions=(1.0,), seeds=(0,))
    grid.write_summary_and_stats(n_boot=50)
    page, _ = build_report(grid.report_inputs(), grid.config)
    table = page[page.index("Run time per stage") :]
    table = table[: table.index("</table>")]
    assert "tokens/s" in table and "padding (%)" in table
    # rule, jobs, total, longest, peak MB, tokens/s, samples/s, padding %, GPU MB, MFU %
    assert "<td>finetune</td>" in table and "<td>5,120</td><td>40.0</td><td>12.5</td>" in table
    assert (
        "<td>pretrain</td><td>1</td><td>12.5</td><td>12.5</td><td>1250</td><td>5,120</td><td>40.0</td><td>0.0</td>"
        in table
    )
