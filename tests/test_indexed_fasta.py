"""dnatune.genome.indexed_fasta against pysam.FastaFile: every region, every line layout."""

import gzip

import numpy as np
import pysam
import pytest
from genome_fixtures import write_fasta, write_genome

from dnatune.genome.indexed_fasta import IndexedFasta, IndexedFastaError

LENGTHS = [1, 59, 60, 61, 1000, 150_000, 3]  # around the line width, and one over many blocks


def layouts(tmp_path, rng):
    records = {f"c{i}": "".join(rng.choice(list("ACGTNacgtR"), n)) for i, n in enumerate(LENGTHS)}
    for width in (60, 7, 1, 10**6):  # 10**6: one line per sequence
        for final_newline in (True, False):
            plain = tmp_path / f"w{width}-{final_newline}.fa"
            write_fasta(plain, records, width, final_newline)
            pysam.tabix_compress(str(plain), str(plain) + ".gz", force=True)
            yield records, str(plain)
            yield records, str(plain) + ".gz"


@pytest.mark.slow
def test_every_region_equals_pysam_for_plain_and_bgzip_in_any_line_layout(tmp_path):
    rng = np.random.default_rng(0)
    for records, path in layouts(tmp_path, rng):
        ours, theirs = IndexedFasta(path), pysam.FastaFile(path)  # ours builds the indexes
        assert ours.references == list(theirs.references)
        assert ours.lengths == list(theirs.lengths)
        for name, seq in records.items():
            assert ours.fetch(name).tobytes().decode() == seq
            for _ in range(100):
                start = int(rng.integers(0, len(seq) + 2))
                end = int(rng.integers(start, len(seq) + 5))
                got = ours.fetch(name, start, end)
                assert got.tobytes().decode() == theirs.fetch(name, start, end), (path, name)
        ours.close()


def test_regions_are_writable_copies(tmp_path):
    records = {"chr1": "ACGT" * 100}
    write_fasta(tmp_path / "g.fa", records, 60)
    with IndexedFasta(tmp_path / "g.fa") as fasta:
        region = fasta.fetch("chr1", 10, 20)
        region[:] = ord("N")
        assert fasta.fetch("chr1", 10, 20).tobytes() == b"GTACGTACGT"


def test_missing_indexes_are_built_and_bad_input_names_the_file(tmp_path):
    write_fasta(tmp_path / "g.fa", {"chr1": "ACGT" * 30}, 60)
    pysam.tabix_compress(str(tmp_path / "g.fa"), str(tmp_path / "g.fa.gz"))
    with IndexedFasta(tmp_path / "g.fa.gz") as fasta:
        assert fasta.lengths == [120]
    assert (tmp_path / "g.fa.gz.gzi").is_file()

    (tmp_path / "g.fa.gz.gzi").write_bytes(b"\x05\x00")
    with pytest.raises(IndexedFastaError, match="g.fa.gz.gzi is not a bgzip .gzi index"):
        IndexedFasta(tmp_path / "g.fa.gz")

    (tmp_path / "table.txt").write_text("this is not a FASTA file\n")
    with pytest.raises(IndexedFastaError, match="cannot index .*table.txt as a FASTA"):
        IndexedFasta(tmp_path / "table.txt")

    with gzip.open(tmp_path / "plain-gzip.fa.gz", "wt") as handle:
        handle.write(">chr1\nACGT\n")
    with pytest.raises(IndexedFastaError, match="is gzip-compressed; .*recompress it with bgzip"):
        IndexedFasta(tmp_path / "plain-gzip.fa.gz")


def test_a_fasta_shorter_than_its_index_is_an_error(tmp_path):
    write_genome(tmp_path / "g.fa.gz", {"chr1": "ACGT" * 100, "chr2": "ACGT" * 100})
    write_genome(tmp_path / "short.fa.gz", {"chr1": "ACGT" * 100, "chr2": "ACGT" * 50})
    index = (tmp_path / "g.fa.gz.fai").read_bytes(), (tmp_path / "g.fa.gz.gzi").read_bytes()
    (tmp_path / "short.fa.gz.fai").write_bytes(index[0])  # an index of the longer file
    (tmp_path / "short.fa.gz.gzi").write_bytes(index[1])
    with IndexedFasta(tmp_path / "short.fa.gz") as fasta:
        assert fasta.fetch("chr2", 0, 200).tobytes() == b"ACGT" * 50
        with pytest.raises(IndexedFastaError, match="chr2 ends before base 400.*truncated"):
            fasta.fetch("chr2", 100, 400)
