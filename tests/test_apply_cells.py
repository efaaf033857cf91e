"""A fine-tuned cell's saved model, loaded back for tracks, scores as the cell did."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_finetune import SPEC, make_task, run_cell

from dnatune.apply.cells import ApplyError, load_cell_model
from dnatune.apply.scoring import ModelScorer, track_names
from dnatune.corpus.tokenizers import build_tokenizer
from dnatune.train.models import init_scratch_model


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    root = tmp_path_factory.mktemp("base")
    build_tokenizer({"kind": "kmer", "k": 3, "overlap": True}, root / "tokenizer")
    init_scratch_model(SPEC, root / "tokenizer", root / "model", seed=0)
    return root / "model"


@pytest.mark.parametrize(("method", "task_type"), [("full", "binary"), ("lora", "multiclass")])
def test_a_saved_cell_reloads_and_reproduces_its_test_predictions(
    base, tmp_path, method, task_type
):
    task = make_task(tmp_path / "task", task_type, sizes=(32, 16, 16), lengths=(30, 40))
    run_cell(
        base,
        task,
        tmp_path / "cell",
        method=method,
        max_steps=3,
        eval_steps=3,
        lora_target_modules=["query", "value"] if method == "lora" else None,
    )
    model, tokenizer, record = load_cell_model(tmp_path / "cell" / "model")
    names = track_names(record)
    assert names == (["1"] if task_type == "binary" else ["0", "1", "2"])
    test = pd.read_parquet(task / "test.parquet")["sequence"].tolist()
    scores = ModelScorer(model, tokenizer, record["type"], batch_size=5)(test)
    saved = pd.read_parquet(tmp_path / "cell" / "predictions.parquet")
    saved = saved[saved["split"] == "test"].sort_values("row")
    columns = [c for c in saved.columns if c.startswith("score")]
    np.testing.assert_allclose(scores, saved[columns].to_numpy(), atol=1e-5)


def test_a_folder_that_is_no_cell_model_says_so(base):
    with pytest.raises(ApplyError, match="dnatune_finetune.json is missing"):
        load_cell_model(base)
