"""FASTA reading and normalisation: formats, line endings, case, IUPAC codes and bad input."""

import bz2
import gzip
import io
import logging

import pysam
import pytest

from dnatune.compressed import compression, open_input
from dnatune.genome.fasta import FastaError, normalise_fasta, read_fasta


def normalise(path, **kwargs) -> tuple[str, object]:
    out = io.BytesIO()
    stats = normalise_fasta(path, out.write, **kwargs)
    return out.getvalue().decode(), stats


def test_crlf_lower_case_and_uneven_lines_are_normalised(tmp_path):
    src = tmp_path / "g.fa"
    src.write_bytes(b">chr1 first chromosome\r\nACGTacgt\r\nNNac\r\n\r\n>chr2\r\nGGCC\r\n")
    text, stats = normalise(src, line_width=5)
    assert text == ">chr1 first chromosome\nACGTa\ncgtNN\nac\n>chr2\nGGCC\n"
    assert "\r" not in text
    assert [(c.name, c.length) for c in stats.contigs] == [("chr1", 12), ("chr2", 4)]
    assert stats.n_count == 2
    assert stats.contigs[0].softmasked == 6  # acgt + ac, lower case kept and counted
    assert stats.gc_fraction == pytest.approx((5 + 4) / 14)  # C G c g c + GGCC over 14 called


def test_iupac_codes_become_n_keeping_case_and_are_logged(tmp_path, caplog):
    src = tmp_path / "g.fa"
    src.write_text(">c1\nACRYGT\nacswkmgt\n>c2\nBDHVU-\n")
    with caplog.at_level(logging.WARNING, logger="dnatune.genome.fasta"):
        records = dict(read_fasta(src))
    assert records == {"c1": "ACNNGTacnnnngt", "c2": "NNNNNN"}
    assert "replaced 12 IUPAC/non-ACGT bases by N" in caplog.text
    assert "c1: 6" in caplog.text and "c2: 6" in caplog.text
    assert str(src) in caplog.text
    _, stats = normalise(src)
    assert stats.iupac_replaced == 12
    assert stats.n_count == 12


def test_small_blocks_give_the_same_output_as_large_ones(tmp_path):
    src = tmp_path / "g.fa"
    lines = [">a"] + ["ACGTRYacgtnNKM"[i % 7 :] * 3 for i in range(40)] + [">b", "ggcc" * 9]
    src.write_text("\n".join(lines) + "\n")
    big, big_stats = normalise(src, line_width=60)
    small, small_stats = normalise(src, line_width=60, block_size=7)
    assert big == small
    assert big_stats == small_stats
    assert all(len(line) <= 60 for line in big.splitlines())


@pytest.mark.parametrize("writer", ["gzip", "bgzip"])
def test_compression_is_detected_by_magic_bytes_not_suffix(tmp_path, writer):
    data = b">chr1\nACGTNacgtn\n"
    src = tmp_path / "genome.fasta"  # no .gz suffix on purpose
    if writer == "gzip":
        src.write_bytes(gzip.compress(data))
    else:
        with pysam.BGZFile(str(src), "wb") as out:
            out.write(data)
    assert compression(src) == writer
    assert list(read_fasta(src)) == [("chr1", "ACGTNacgtn")]


def test_gz_suffix_on_a_plain_file_is_an_error_naming_the_file(tmp_path):
    src = tmp_path / "genome.fa.gz"
    src.write_text(">chr1\nACGT\n")
    with pytest.raises(FastaError, match=r"genome\.fa\.gz is named like a gzip file but is not"):
        list(read_fasta(src))


def test_other_compressions_are_named(tmp_path):
    src = tmp_path / "genome.fa.bz2"
    src.write_bytes(bz2.compress(b">chr1\nACGT\n"))
    with pytest.raises(FastaError, match="bzip2-compressed"):
        list(read_fasta(src))


def test_not_fasta_names_file_and_line(tmp_path):
    src = tmp_path / "genes.gff3"
    src.write_text("\n##gff-version 3\nchr1\t.\tgene\t1\t10\t.\t+\t.\tID=g1\n")
    with pytest.raises(FastaError, match=r"genes\.gff3 line 2: expected a FASTA header"):
        list(read_fasta(src))


def test_protein_fasta_names_line_and_column(tmp_path):
    src = tmp_path / "protein.fa"
    src.write_text(">p1\nACGT\nMEEPQ\n")  # M is an IUPAC code, E is not
    with pytest.raises(FastaError, match=r"protein\.fa line 3 column 2: 'E' is not a nucleotide"):
        list(read_fasta(src))


@pytest.mark.parametrize("content", [b"", b"\n\n  \n", gzip.compress(b"")])
def test_empty_file_is_an_error(tmp_path, content):
    src = tmp_path / "empty.fa"
    src.write_bytes(content)
    with pytest.raises(FastaError, match=r"empty\.fa is empty"):
        list(read_fasta(src))


@pytest.mark.parametrize(
    ("content", "line", "name"),
    [(">a\nACGT\n>b\n>c\nAC\n", 3, "b"), (">a\nACGT\n>b\n\n", 3, "b"), (">a\n", 1, "a")],
)
def test_empty_record_is_an_error_naming_its_header_line(tmp_path, content, line, name):
    src = tmp_path / "g.fa"
    src.write_text(content)
    with pytest.raises(FastaError, match=rf"g\.fa line {line}: record '{name}' has no sequence"):
        normalise(src)


def test_duplicate_contig_names_are_an_error_naming_both_lines(tmp_path):
    src = tmp_path / "g.fa"
    src.write_text(">chr1\nACGT\n>chr2 x\nAC\n>chr1 again\nGG\n")
    with pytest.raises(
        FastaError, match=r"g\.fa line 5: contig name 'chr1' is already used on line 1"
    ):
        normalise(src)


def test_header_without_name_is_an_error(tmp_path):
    src = tmp_path / "g.fa"
    src.write_text(">\nACGT\n")
    with pytest.raises(FastaError, match="line 1: header '>' has no sequence name"):
        normalise(src)


def test_truncated_gzip_is_an_error(tmp_path):
    src = tmp_path / "g.fa.gz"
    src.write_bytes(gzip.compress(b">chr1\n" + b"ACGT" * 5000 + b"\n")[:-30])
    with pytest.raises(FastaError, match=r"g\.fa\.gz: compressed data is corrupt or truncated"):
        normalise(src)


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(FastaError, match="no such file"):
        normalise(tmp_path / "nope.fa")


def test_display_name_is_used_for_messages_and_the_suffix_check(tmp_path):
    src = tmp_path / "download.bin"
    src.write_text("<html>Not found</html>\n")
    with pytest.raises(FastaError, match=r"https://example.org/g\.fa\.gz is named like a gzip"):
        normalise(src, display="https://example.org/g.fa.gz")
    with open_input(src, "https://example.org/g.fa") as handle:
        assert handle.read(6) == b"<html>"
