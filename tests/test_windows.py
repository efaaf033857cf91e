"""Windowing: filters, reverse-complement copies, leak-free splits, streaming, bad input."""

import gzip
import logging

import numpy as np
import pandas as pd
import pytest
from genome_fixtures import write_genome

from dnatune.corpus.bed_intervals import inside, overlapping, read_bed
from dnatune.corpus.window_split import plan_split
from dnatune.corpus.windows import (
    WindowsError,
    make_windows,
    read_windows_metadata,
)
from dnatune.settings import SettingsError


def random_seq(rng, n: int) -> str:
    return "".join(rng.choice(list("ACGT"), n))


@pytest.fixture
def genome(tmp_path):
    """chr1 has an N gap at 1000-1400 and a soft-masked stretch at 2000-2600."""
    rng = np.random.default_rng(0)
    chr1 = list(random_seq(rng, 5000))
    chr1[1000:1400] = "N" * 400
    chr1[2000:2600] = [b.lower() for b in chr1[2000:2600]]
    chromosomes = {"chr1": "".join(chr1), "chr2": random_seq(rng, 3000), "chr3": "ACGT" * 10}
    return write_genome(tmp_path / "genome.fa.gz", chromosomes), chromosomes


SETTINGS = {"size": 200, "stride": 100, "split": {"val": 0.0, "test": 0.0}}


def windows_of(genome_fa, tmp_path, **changes):
    settings = {**SETTINGS, **changes}
    out = tmp_path / "windows.parquet"
    stats = make_windows(genome_fa, out, settings)
    return pd.read_parquet(out), stats


def test_columns_sizes_and_strides(genome, tmp_path):
    df, stats = windows_of(genome[0], tmp_path)
    assert list(df.columns) == ["chrom", "start", "end", "strand", "split"]
    assert (df.end - df.start == 200).all()
    assert set(df.chrom) == {"chr1", "chr2"}  # chr3 is shorter than a window
    chr2 = df[df.chrom == "chr2"]
    assert chr2.start.tolist() == list(range(0, 3000 - 200 + 1, 100))
    assert (df.strand == "+").all() and (df.split == "train").all()
    assert stats["windows"]["train"] == len(df)


def test_windows_with_too_many_n_are_dropped(genome, tmp_path):
    df, stats = windows_of(genome[0], tmp_path, max_n_fraction=0.1)
    seq = genome[1]["chr1"]
    for row in df[df.chrom == "chr1"].itertuples():
        assert seq[row.start : row.end].count("N") <= 20
    assert stats["dropped"]["n_fraction"] == 5  # windows 900..1300 hold > 20 N
    assert 1000 not in set(df[df.chrom == "chr1"].start)


def test_softmask_drop_removes_masked_windows_and_upper_keeps_them(genome, tmp_path):
    upper, _ = windows_of(genome[0], tmp_path, softmask="upper")
    dropped, stats = windows_of(genome[0], tmp_path, softmask="drop", max_softmask_fraction=0.5)
    masked = {2000, 2100, 2200, 2300, 2400, 1900, 2500}  # > 100 of 200 bases lower case
    starts = set(dropped[dropped.chrom == "chr1"].start)
    assert not (starts & {2000, 2100, 2200, 2300, 2400})
    assert {1900, 2500} <= starts  # exactly half masked: kept
    assert len(upper) - len(dropped) == stats["dropped"]["softmasked"] == len(masked) - 2


def test_reverse_complement_adds_a_minus_copy_of_every_window(genome, tmp_path):
    plain, _ = windows_of(genome[0], tmp_path)
    both, stats = windows_of(genome[0], tmp_path, reverse_complement=True)
    assert len(both) == 2 * len(plain) == stats["windows"]["train"]
    assert both.strand.tolist()[:4] == ["+", "-", "+", "-"]
    pairs = both.groupby(["chrom", "start"]).strand.apply(sorted)
    assert (pairs.apply(tuple) == ("+", "-")).all()


def test_include_and_exclude_bed(genome, tmp_path):
    include = tmp_path / "include.bed"
    include.write_text("track name=x\nchr1\t0\t1000\n# note\nchr2\t500\t1500\nchrZ\t0\t10\n")
    exclude = tmp_path / "exclude.bed"
    exclude.write_text("chr2\t990\t1010\n")
    df, stats = windows_of(genome[0], tmp_path, include_bed=str(include), exclude_bed=str(exclude))
    assert df[df.chrom == "chr1"].end.max() <= 1000
    chr2 = df[df.chrom == "chr2"]
    assert (chr2.start >= 500).all() and (chr2.end <= 1500).all()
    assert not ((chr2.start < 1010) & (chr2.end > 990)).any()
    assert stats["dropped"]["in_exclude_bed"] > 0 and stats["dropped"]["outside_include_bed"] > 0


def test_interval_helpers():
    intervals = (np.array([10, 100]), np.array([50, 120]))
    starts, ends = np.array([10, 40, 100, 0, 120]), np.array([50, 60, 110, 10, 130])
    assert inside(intervals, starts, ends).tolist() == [True, False, True, False, False]
    assert overlapping(intervals, starts, ends).tolist() == [True, True, True, False, False]


@pytest.mark.parametrize("compress", [False, True])
def test_bed_files_are_merged(tmp_path, compress):
    text = "track name=x\nchr1\t50\t80\nchr1\t0\t60\nchr1 100 110\n"
    bed = tmp_path / ("a.bed.gz" if compress else "a.bed")
    bed.write_bytes(gzip.compress(text.encode()) if compress else text.encode())
    starts, ends = read_bed(bed, WindowsError)["chr1"]
    assert starts.tolist() == [0, 100] and ends.tolist() == [80, 110]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("chr1\t10\n", "line 1"),
        ("chr1\t0\t10\nchr1\tten\t20\n", "line 2.*integers"),
        ("chr1\t30\t10\n", "start <= end"),
    ],
)
def test_bad_bed_lines_name_the_file_and_line(tmp_path, text, message):
    bed = tmp_path / "bad.bed"
    bed.write_text(text)
    with pytest.raises(WindowsError, match=message) as err:
        read_bed(bed, WindowsError)
    assert "bad.bed" in str(err.value)


def test_a_bed_of_another_genome_is_an_error(genome, tmp_path):
    bed = tmp_path / "other.bed"
    bed.write_text("chrX\t0\t100\n")
    with pytest.raises(WindowsError, match="none of its chromosomes"):
        windows_of(genome[0], tmp_path, include_bed=str(bed))


def test_split_by_chromosome_holds_out_whole_chromosomes(tmp_path):
    rng = np.random.default_rng(1)
    chromosomes = {f"chr{i}": random_seq(rng, 3000 + 500 * i) for i in range(1, 11)}
    fa = write_genome(tmp_path / "g.fa.gz", chromosomes)
    df, stats = windows_of(fa, tmp_path, split={"val": 0.1, "test": 0.1, "by": "chromosome"})
    per_chrom = df.groupby("chrom").split.nunique()
    assert (per_chrom == 1).all()
    assert set(df.split) == {"train", "val", "test"}
    bases = df.groupby("split").size() / len(df)
    assert bases["val"] <= 0.2 and bases["test"] <= 0.2
    assert read_windows_metadata(tmp_path / "windows.parquet")["method"] == "chromosome"
    assert "split by chromosome" in stats["split"]


def test_too_few_chromosomes_fall_back_to_blocks_and_say_so(genome, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    df, _ = windows_of(genome[0], tmp_path, split={"val": 0.1, "test": 0.1, "by": "chromosome"})
    assert read_windows_metadata(tmp_path / "windows.parquet")["method"] == "block"
    assert "falling back to blocks" in caplog.text
    assert set(df.split) == {"train", "val", "test"}


def test_block_split_keeps_splits_apart(tmp_path):
    rng = np.random.default_rng(2)
    fa = write_genome(tmp_path / "g.fa.gz", {"chr1": random_seq(rng, 200_000)})
    split = {"val": 0.1, "test": 0.1, "by": "block", "block_size": 5000}
    df, stats = windows_of(fa, tmp_path, split=split)
    assert stats["dropped"]["split_boundary"] > 0
    for name in ("val", "test"):
        assert 0.03 < (df.split == name).mean() < 0.2
    # no base is in windows of two different splits
    owner = np.full(200_000, "", dtype=object)
    for row in df.itertuples():
        seen = set(owner[row.start : row.end]) - {""}
        assert seen <= {row.split}
        owner[row.start : row.end] = row.split


def test_plan_split_rules():
    lengths = {f"c{i}": 1000 for i in range(20)}
    plan = plan_split(lengths, val=0.1, test=0.1)
    assert plan.method == "chromosome"
    assert sorted(plan.chromosomes.values()).count(1) == 2  # 2 of 20 equal chromosomes
    two = plan_split({"a": 10**6, "b": 10**6}, val=0.05, test=0.05)
    assert two.method == "block" and "cannot give" in two.reason
    assert two.block_size < 10**6  # lowered so that every split gets blocks
    only_train = plan_split({"a": 10**6}, val=0, test=0)
    assert only_train.method == "chromosome" and not only_train.chromosomes


def test_chunked_streaming_gives_the_same_windows(genome, tmp_path):
    settings = {**SETTINGS, "reverse_complement": True}
    make_windows(genome[0], tmp_path / "big.parquet", settings, chunk_bases=10**7)
    make_windows(genome[0], tmp_path / "small.parquet", settings, chunk_bases=450)
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "big.parquet"), pd.read_parquet(tmp_path / "small.parquet")
    )


def test_bad_input_is_a_clear_error(genome, tmp_path):
    not_fasta = tmp_path / "notes.txt"
    not_fasta.write_text("hello\n")
    with pytest.raises(WindowsError, match="indexed FASTA"):
        make_windows(not_fasta, tmp_path / "w.parquet", SETTINGS)
    with pytest.raises(
        WindowsError,
        match=r"no window passed the filters: every contig is shorter than windows.size 100000 "
        r"\(the longest is 5000 bp\); set windows.size to 5000 or less",
    ):
        windows_of(genome[0], tmp_path, size=100_000)
    assert not (tmp_path / "windows.parquet").exists()  # nothing half-written
    with pytest.raises(SettingsError, match="key 'windows.sise' is not a setting"):
        windows_of(genome[0], tmp_path, sise=100)
    with pytest.raises(WindowsError, match="softmask"):
        windows_of(genome[0], tmp_path, softmask="lower")


def test_no_window_left_by_the_filters_says_which_dropped_them(tmp_path):
    fa = write_genome(tmp_path / "g.fa.gz", {"chr1": "N" * 1000, "chr2": "ACGT" * 20})
    with pytest.raises(
        WindowsError,
        match=r"windows dropped: 9 more N than windows.max_n_fraction \(raise it\); "
        r"1 of 2 contigs shorter than windows.size",
    ):
        make_windows(fa, tmp_path / "w.parquet", SETTINGS)


def test_bases_outside_acgtn_are_counted_once_and_logged(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    rng = np.random.default_rng(4)
    seq = list(random_seq(rng, 2050))
    seq[150] = seq[151] = "R"  # inside the overlap of two chunks
    seq[2040] = "y"  # after the last window (1800-2000): not read
    seq[1500] = "K"
    fa = write_genome(tmp_path / "g.fa.gz", {"chr1": "".join(seq)})
    make_windows(fa, tmp_path / "w.parquet", SETTINGS, chunk_bases=200)
    assert "3 bases outside ACGTN counted as N" in caplog.text
