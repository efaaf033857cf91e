"""Prediction tracks: window tiling, exact centre-keeping stitch, strands, bigWig read-back."""

from __future__ import annotations

import gzip
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pyBigWig
import pytest
from genome_fixtures import write_genome

from dnatune.apply.cells import ApplyError
from dnatune.apply.regions import chunk_plan, requested_regions
from dnatune.apply.scoring import strand_averaged
from dnatune.apply.tiling import contig_tiles, region_tiles, window_starts
from dnatune.apply.tracks import merge_tracks, score_chunk, score_region
from dnatune.genome.indexed_fasta import IndexedFasta


def gc_fraction(sequences):
    """A fake model whose score of a window is known exactly: its GC fraction."""
    return np.array([[(s.count("G") + s.count("C")) / len(s)] for s in sequences])


def expected_per_base(seq: str, window: int, stride: int) -> np.ndarray:
    """Brute force: each base scored by the window whose centre is nearest (ties: earlier)."""
    starts = window_starts(len(seq), window, stride)
    width = min(window, len(seq))
    centres = starts + width / 2
    out = np.empty(len(seq))
    for base in range(len(seq)):
        i = int(np.argmin(np.abs(centres - (base + 0.5))))
        assert starts[i] <= base < starts[i] + width  # scored from inside its window
        out[base] = gc_fraction([seq[starts[i] : starts[i] + width]])[0, 0]
    return out


def per_base(frame: pd.DataFrame, start: int, end: int, column: str = "score") -> np.ndarray:
    out = np.full(end - start, np.nan)
    for row in frame.itertuples():
        assert np.isnan(out[row.start - start : row.end - start]).all()  # no base twice
        out[row.start - start : row.end - start] = getattr(row, column)
    return out


@pytest.fixture
def genome(tmp_path):
    rng = np.random.default_rng(0)
    records = {
        "chrA": "".join(rng.choice(list("ACGT"), 1037)),
        "chrB": "".join(rng.choice(list("ACGT"), 90)),  # shorter than a window
    }
    return write_genome(tmp_path / "genome.fa.gz", records), records


@pytest.mark.parametrize(("window", "stride"), [(100, 50), (100, 30), (101, 33), (64, 64)])
def test_every_base_is_scored_by_the_window_whose_centre_is_nearest(genome, window, stride):
    path, records = genome
    with IndexedFasta(path) as fasta:
        for chrom, seq in records.items():
            frame = score_region(
                fasta, chrom, 0, len(seq), window, stride, gc_fraction, ["score"], batch_windows=7
            )
            np.testing.assert_allclose(
                per_base(frame, 0, len(seq)), expected_per_base(seq, window, stride), rtol=1e-6
            )


def test_a_regular_stride_keeps_each_windows_central_stride_bases():
    tiles = contig_tiles(1000, 200, 100)
    assert tiles.start.tolist()[:3] == [0, 100, 200]
    assert (tiles.keep_start[1:-1] - tiles.start[1:-1]).tolist() == [50] * (len(tiles) - 2)
    assert (tiles.keep_end - tiles.keep_start)[1:-1].tolist() == [100] * (len(tiles) - 2)
    assert tiles.keep_start[0] == 0 and tiles.keep_end[-1] == 1000


def test_region_tiles_are_the_contig_tiles_that_meet_the_region():
    rng = np.random.default_rng(1)
    for _ in range(2000):
        length = int(rng.integers(1, 3000))
        window = int(rng.integers(1, 400))
        stride = int(rng.integers(1, window + 1))
        start = int(rng.integers(0, length))
        end = int(rng.integers(start + 1, length + 1))
        whole = contig_tiles(length, window, stride)
        meets = (whole.keep_end > start) & (whole.keep_start < end)
        region = region_tiles(length, window, stride, start, end)
        assert region.start.tolist() == whole.start[meets].tolist()
        assert region.keep_start.tolist() == np.maximum(whole.keep_start[meets], start).tolist()
        assert region.keep_end.tolist() == np.minimum(whole.keep_end[meets], end).tolist()


def test_chunks_and_regions_give_each_base_the_same_score_as_the_whole_contig(genome):
    path, records = genome
    seq = records["chrA"]
    with IndexedFasta(path) as fasta:
        whole = per_base(
            score_region(fasta, "chrA", 0, len(seq), 100, 40, gc_fraction, ["score"]), 0, len(seq)
        )
        pieces = [
            score_region(
                fasta, "chrA", lo, min(lo + 333, len(seq)), 100, 40, gc_fraction, ["score"]
            )
            for lo in range(0, len(seq), 333)
        ]
    np.testing.assert_array_equal(per_base(pd.concat(pieces), 0, len(seq)), whole)
    tiles = region_tiles(len(seq), 100, 40, 500, 520)
    assert tiles.keep_start[0] == 500 and tiles.keep_end[-1] == 520


def test_strand_average_is_the_mean_of_a_sequence_and_its_reverse_complement():
    def a_fraction(sequences):
        return np.array([[s.count("A") / len(s)] for s in sequences])

    seqs = ["AAAC", "ACGT", "TTTTTTTA"]
    averaged = strand_averaged(a_fraction)(seqs)
    expected = [[(s.count("A") + s.count("T")) / 2 / len(s)] for s in seqs]
    np.testing.assert_allclose(averaged, expected)


def test_per_class_tracks_are_written_as_bigwig_and_bedgraph_and_read_back(genome, tmp_path):
    path, records = genome
    names = ["low gc", "mid", "high"]

    def three_classes(sequences):
        gc = gc_fraction(sequences)[:, 0]
        return np.stack([1 - gc, np.full_like(gc, 0.25), gc], axis=1)

    plan = chunk_plan(requested_regions("all", path + ".fai"), chunk_bp=400)
    assert plan["chrom"].tolist() == ["chrA", "chrA", "chrA", "chrB"]
    files = []
    for chunk in plan.to_dict("records"):
        files.append(tmp_path / f"chunks/{chunk['chunk']}.parquet")
        score_chunk(path, chunk, 100, 50, three_classes, names, files[-1])
    out = tmp_path / "tracks"
    stems = merge_tracks(files, path + ".fai", names, out, path, "promoter tiny")
    assert stems == ["low_gc", "mid", "high"]
    seq = records["chrA"]
    expected_high = expected_per_base(seq, 100, 50)
    with pyBigWig.open(str(out / "high.bw")) as bw:
        assert bw.chroms() == {"chrA": 1037, "chrB": 90}
        np.testing.assert_allclose(bw.values("chrA", 0, len(seq)), expected_high, rtol=1e-6)
        assert bw.values("chrB", 0, 90) == pytest.approx(
            [gc_fraction([records["chrB"]])[0, 0]] * 90
        )
    with pyBigWig.open(str(out / "low_gc.bw")) as bw:
        np.testing.assert_allclose(bw.values("chrA", 0, len(seq)), 1 - expected_high, rtol=1e-5)
    with gzip.open(out / "mid.bedGraph.gz", "rt") as handle:
        lines = handle.read().splitlines()
    covered = sum(int(e) - int(s) for _, s, e, _ in (line.split("\t") for line in lines))
    assert covered == 1037 + 90 and {line.split("\t")[3] for line in lines} == {"0.25"}
    session = ET.parse(out / "igv_session.xml").getroot()
    assert [r.get("path") for r in session.iter("Resource")] == ["low_gc.bw", "mid.bw", "high.bw"]
    assert (out / session.get("genome")).resolve() == (tmp_path / "genome.fa.gz").resolve()


def test_bad_regions_name_the_file_line_or_key(genome, tmp_path):
    path, _ = genome
    bed = tmp_path / "regions.bed"
    bed.write_text("chrA\t10\t200\nchrA\t900\t1100\n")
    with pytest.raises(
        ApplyError, match=r"regions.bed line 2: .*past the end of contig chrA \(1037 bp\)"
    ):
        requested_regions(str(bed), path + ".fai")
    bed.write_text("chrZ\t10\t200\n")
    with pytest.raises(
        ApplyError,
        match=r"regions.bed line 1: unknown chromosome 'chrZ'; the genome has chrA, chrB",
    ):
        requested_regions(str(bed), path + ".fai")
    with pytest.raises(ApplyError, match=r"key 'apply.tracks.regions': unknown chromosome 'chr1'"):
        requested_regions(["chrA", "chr1"], path + ".fai")
    bed.write_text("chrB\t0\t50\nchrA\t10\t200\nchrA\t150\t300\n")
    plan = chunk_plan(requested_regions(str(bed), path + ".fai"), chunk_bp=1000)
    assert plan[["chrom", "start", "end"]].values.tolist() == [["chrA", 10, 300], ["chrB", 0, 50]]


def test_a_failed_merge_leaves_no_track_folder(genome, tmp_path):
    path, _ = genome
    bad = tmp_path / "bad.parquet"
    pd.DataFrame({"chrom": ["chrA"], "start": [0], "end": [10]}).to_parquet(bad)
    with pytest.raises(KeyError):
        merge_tracks([bad], path + ".fai", ["score"], tmp_path / "out", path, "t")
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.glob(".out.tmp-*"))
