"""Split assignment: stratified random for files; chromosome or region for genome examples,
with no example of one split overlapping an example of another."""

import numpy as np
import pandas as pd
import pytest

from dnatune.tasks.sources import TaskInputError
from dnatune.tasks.split import carve, genome_split, random_split


def windows(chroms: dict[str, int], step: int = 50, length: int = 100) -> pd.DataFrame:
    """Overlapping windows tiling each chromosome (the worst case for leakage)."""
    rows = [(c, s, s + length) for c, size in chroms.items() for s in range(0, size - length, step)]
    return pd.DataFrame(rows, columns=["chrom", "start", "end"])


def assert_no_cross_split_overlap(frame: pd.DataFrame, names: np.ndarray) -> None:
    kept = frame.assign(split=names).dropna(subset=["split"]).sort_values(["chrom", "start"])
    for _, group in kept.groupby("chrom"):
        starts, ends, splits = (
            group["start"].to_numpy(),
            group["end"].to_numpy(),
            group["split"].to_numpy(),
        )
        for i in range(len(group)):
            j = i + 1
            while j < len(group) and starts[j] < ends[i]:
                assert splits[i] == splits[j], (group.iloc[i].tolist(), group.iloc[j].tolist())
                j += 1


def test_random_split_sizes_and_stratification():
    strata = np.array([0] * 80 + [1] * 20)
    names = random_split(100, 0.1, 0.2, seed=0, strata=strata)
    assert [(names == s).sum() for s in ("train", "val", "test")] == [70, 10, 20]
    assert ((names == "test") & (strata == 1)).sum() == 4
    assert (random_split(100, 0.1, 0.2, seed=0, strata=strata) == names).all()


def test_random_split_with_a_too_rare_class_explains_the_fix():
    strata = np.array([0] * 50 + [1])
    with pytest.raises(TaskInputError, match=r"stratified by class.*rare classes.*'\{split\}'"):
        random_split(51, 0.1, 0.1, seed=0, strata=strata)


def test_carve_takes_the_fraction():
    mask = carve(100, 0.25, seed=1)
    assert mask.sum() == 25


def test_many_chromosomes_split_by_whole_chromosome():
    frame = windows({f"chr{i}": 10_000 for i in range(1, 21)})
    names, method, detail = genome_split(frame, 0.1, 0.1, seed=0)
    assert method == "chromosome"
    assert {len(detail[s]) for s in ("val", "test")} == {2}
    for split, chroms in detail.items():
        assert set(frame["chrom"][names == split]) == set(chroms)
    assert not any(n is None for n in names)


def test_few_chromosomes_fall_back_to_regions_without_leakage():
    frame = windows({"chr1": 60_000, "chr2": 40_000})
    names, method, detail = genome_split(frame, 0.1, 0.1, seed=0)
    assert method == "region"
    assert detail["dropped_at_boundaries"] > 0
    assert detail["dropped_at_boundaries"] == sum(n is None for n in names)
    assert_no_cross_split_overlap(frame, names)
    share = {s: np.mean(names == s) for s in ("train", "val", "test")}
    assert 0.05 < share["val"] < 0.2 and 0.05 < share["test"] < 0.2
    # every kept example lies inside a region recorded for its split
    for split, regions in detail["regions"].items():
        picked = frame[names == split]
        inside = np.zeros(len(picked), dtype=bool)
        for chrom, start, end in regions:
            inside |= (
                (picked["chrom"] == chrom) & (picked["start"] >= start) & (picked["end"] <= end)
            ).to_numpy()
        assert inside.all()


def test_region_split_depends_on_seed():
    frame = windows({"chr1": 100_000})
    a, _, _ = genome_split(frame, 0.1, 0.1, seed=0)
    b, _, _ = genome_split(frame, 0.1, 0.1, seed=1)
    assert (a != b).any()


def test_forced_chromosome_split_with_too_few_chromosomes_is_an_error():
    frame = windows({"chr1": 5_000, "chr2": 5_000})
    with pytest.raises(
        TaskInputError,
        match=r"split by chromosome leaves \['val', 'test'\] empty.*2 chromosome.*'region'",
    ):
        genome_split(frame, 0.1, 0.1, seed=0, by="chromosome")


def test_explicit_chromosomes():
    frame = windows({f"chr{i}": 5_000 for i in range(1, 6)})
    names, method, detail = genome_split(
        frame, 0.1, 0.1, seed=0, chromosomes={"val": ["chr2"], "test": ["chr5"]}
    )
    assert method == "chromosome"
    assert detail == {"train": ["chr1", "chr3", "chr4"], "val": ["chr2"], "test": ["chr5"]}
    with pytest.raises(TaskInputError, match=r"chromosomes\.test names 'chrX'"):
        genome_split(frame, 0.1, 0.1, seed=0, chromosomes={"val": ["chr2"], "test": ["chrX"]})


def test_block_size_shorter_than_an_example_is_an_error():
    frame = windows({"chr1": 50_000}, length=500)
    with pytest.raises(
        TaskInputError, match=r"block_size 200 is shorter than the longest example \(500 bp\)"
    ):
        genome_split(frame, 0.1, 0.1, seed=0, by="region", block_size=200)


def test_too_few_regions_is_an_error():
    frame = windows({"chr1": 3_000})
    with pytest.raises(TaskInputError, match=r"block_size smaller"):
        genome_split(frame, 0.1, 0.1, seed=0, by="region", block_size=2_000)
