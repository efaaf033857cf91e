"""The `apply:` block: cells checked against the grid, names against the config."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import tiny_config

from dnatune.apply.cells import base_model_dir, cell_model_dir, check_apply, selected_cells
from dnatune.config import ConfigError, validate_config

SCHEMA = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"
CELL = {"task": "promoter", "model": "tiny", "variant": "pretrained", "fraction": 1, "seed": 0}


def with_apply(block: dict) -> dict:
    config = tiny_config()
    config["apply"] = block
    return validate_config(config, SCHEMA)


def test_applied_cells_are_the_grids_cells_with_schema_defaults():
    config = with_apply({"cells": [CELL], "tracks": {"genomes": ["demo"]}})
    check_apply(config)
    (cell,) = selected_cells(config)
    assert cell_model_dir(cell) == "results/finetune/promoter/tiny/pretrained/f1/s0/model"
    tracks = config["apply"]["tracks"]
    assert tracks["regions"] == "all" and tracks["both_strands"] is True
    assert tracks["window"] is None and tracks["chunk_bp"] == 5_000_000
    assert base_model_dir(config, "tiny") == "results/models/tiny/pretrained"


@pytest.mark.parametrize(
    ("block", "error"),
    [
        (
            {"cells": [{**CELL, "seed": 7}]},
            r"key 'apply.cells\[0\]': promoter/tiny/pretrained/f1/s7 is not a language-model "
            r"cell of the grid .* cells of the grid: promoter/tiny/scratch/f1/s0, "
            r"promoter/tiny/pretrained/f1/s0",
        ),
        (
            {"cells": [CELL], "tracks": {"genomes": ["hg38"]}},
            r"'apply.tracks.genomes': unknown genome 'hg38'",
        ),
        (
            {"tracks": {"genomes": ["demo"]}},
            r"'apply.tracks.genomes': tracks are of fine-tuned cells",
        ),
        ({"models": ["big"]}, r"'apply.models': unknown model 'big'; models: \['tiny'\]"),
        (
            {"embeddings": {"tasks": ["promoter"]}},
            r"'apply.embeddings': embeddings are of base models",
        ),
        (
            {"models": ["tiny"], "embeddings": {"tasks": ["enh"]}},
            r"'apply.embeddings.tasks': unknown task 'enh'",
        ),
    ],
)
def test_apply_block_referring_to_what_the_config_lacks_names_the_key(block, error):
    with pytest.raises(ConfigError, match=error):
        check_apply(with_apply(block))


def test_apply_block_typo_is_a_schema_error():
    with pytest.raises(ConfigError, match="stride"):
        with_apply({"cells": [CELL], "tracks": {"genomes": ["demo"], "strides": 10}})
    with pytest.raises(ConfigError, match="apply.cells"):
        with_apply({"cells": [{**CELL, "variant": "cnn"}]})
