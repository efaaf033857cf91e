"""Track validation: interval labels from the annotation, held-out chromosomes, AUROC with CI."""

from __future__ import annotations

import json

import pandas as pd
import pyBigWig
import pytest

from dnatune.apply.validation import (
    held_out_regions,
    interval_labels,
    score_track,
)


def test_an_interval_is_positive_when_its_middle_base_lies_in_a_feature():
    features = pd.DataFrame(
        {"seqid": ["c1", "c1", "c1", "c2"], "start": [100, 120, 500, 0], "end": [300, 150, 510, 50]}
    )
    intervals = pd.DataFrame(
        {
            "chrom": ["c1"] * 6 + ["c2", "c3"],
            "start": [0, 90, 280, 300, 495, 509, 40, 0],
            "end": [100, 112, 320, 400, 505, 520, 60, 10],
        }
    )
    # middles: 49, 100, 299, 349, 499, 514, 49, 4
    assert interval_labels(intervals, features).tolist() == [0, 1, 1, 0, 0, 0, 1, 0]


def test_held_out_regions_are_the_tasks_test_chromosomes_or_blocks(tmp_path):
    lengths = {"a": 1000, "b": 500, "c": 700}
    meta = tmp_path / "meta.json"
    meta.write_text(json.dumps({"split_method": "chromosome", "split_detail": {"test": ["b"]}}))
    assert held_out_regions(meta, lengths).values.tolist() == [["b", 0, 500]]
    detail = {"regions": {"test": [["a", 0, 100], ["c", 600, 800]], "train": [["b", 0, 500]]}}
    meta.write_text(json.dumps({"split_method": "region", "split_detail": detail}))
    regions = held_out_regions(meta, lengths)
    assert regions.values.tolist() == [["a", 0, 100], ["c", 600, 700]]  # clipped to the contig
    meta.write_text(json.dumps({"split_method": "random", "split_detail": {}}))
    assert held_out_regions(meta, lengths).empty


def test_a_track_that_follows_the_features_scores_auroc_one(tmp_path):
    path = str(tmp_path / "t.bw")
    starts = list(range(0, 1000, 50))
    features = pd.DataFrame({"seqid": "c1", "start": [200, 600], "end": [300, 700]})
    inside = [200 <= s < 300 or 600 <= s < 700 for s in starts]
    with pyBigWig.open(path, "w") as bw:
        bw.addHeader([("c1", 1000), ("c2", 100)])
        bw.addEntries(
            ["c1"] * len(starts),
            starts,
            ends=[s + 50 for s in starts],
            values=[0.9 if i else 0.1 for i in inside],
        )
    whole = pd.DataFrame({"chrom": ["c1"], "start": [0], "end": [1000]})
    result = score_track(path, features, whole, n_boot=200)
    assert result["n_windows"] == 20 and result["n_positive"] == 4
    assert result["auroc"] == pytest.approx(1.0) and result["auprc"] == pytest.approx(1.0)
    assert result["auroc_low"] == pytest.approx(1.0)
    part = pd.DataFrame({"chrom": ["c1"], "start": [150], "end": [420]})  # middles 175..375
    assert score_track(path, features, part, n_boot=10)["n_windows"] == 5
    none = pd.DataFrame({"chrom": ["c2"], "start": [0], "end": [100]})
    assert score_track(path, features, none, n_boot=10)["auroc"] is None  # no interval there
