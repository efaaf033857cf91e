"""GFF3, GTF and BED to the sorted annotation table; formats, coordinates and bad input."""

import gzip
import logging

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dnatune.genome.annotation import (
    SCHEMA,
    AnnotationError,
    detect_format,
    read_annotation,
    write_annotation_table,
)

GFF3 = (
    "##gff-version 3\n"
    "chr2\tsim\tgene\t101\t200\t.\t-\t.\tID=g2;Name=b%2C1\n"
    "chr1\tsim\tCDS\t11\t20\t.\t+\t0\tID=cds1;Parent=g1\n"
    "# a comment\n"
    "chr1\tsim\tgene\t1\t50\t.\t+\t.\tID=g1\n"
    "chr1\tsim\trepeat_region\t30\t40\t.\t?\t.\t.\n"
    "##FASTA\n"
    ">chr1\nACGT\n"
)
GTF = (
    'chr1\tsrc\texon\t5\t9\t.\t-\t.\tgene_id "G1"; transcript_id "T1"; gene_name "abc";\r\n'
    'chr1\tsrc\texon\t1\t3\t.\t+\t.\tgene_id "G0"; transcript_id "T0";\r\n'
)
BED = (
    "track name=x\nbrowser position chr1\nchr1\t10\t20\tpeak1\t0\t+\nchr1\t0\t5\nchr2 7 9 p2 1 -\n"
)


def write(tmp_path, name: str, text: str, gz: bool = False):
    path = tmp_path / name
    data = text.encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def test_gff3_to_zero_based_sorted_table(tmp_path):
    src = write(tmp_path, "genes.gff3.gz", GFF3, gz=True)
    out = tmp_path / "annotation.parquet"
    counts = write_annotation_table(src, out)
    table = pq.read_table(out)
    assert table.schema.equals(SCHEMA)
    rows = table.to_pylist()
    assert [(r["seqid"], r["start"], r["end"], r["type"]) for r in rows] == [
        ("chr1", 0, 50, "gene"),
        ("chr1", 10, 20, "CDS"),
        ("chr1", 29, 40, "repeat_region"),
        ("chr2", 100, 200, "gene"),
    ]
    assert [r["name"] for r in rows] == ["g1", "cds1", "", "b,1"]  # Name, else ID, %-decoded
    assert [r["strand"] for r in rows] == ["+", "+", ".", "-"]
    assert rows[1]["attributes"] == "ID=cds1;Parent=g1"
    assert rows[2]["attributes"] == ""
    assert counts == {"gene": 2, "CDS": 1, "repeat_region": 1}


def test_gtf_with_crlf(tmp_path):
    src = write(tmp_path, "genes.txt", GTF)
    assert detect_format(src) == "gtf"
    rows = read_annotation(src).to_pylist()
    assert (rows[0]["start"], rows[0]["end"], rows[0]["name"]) == (4, 9, "abc")
    assert rows[1]["name"] == "G0"  # gene_name missing: gene_id
    assert rows[0]["attributes"].endswith('gene_name "abc";')


def test_bed_is_already_zero_based(tmp_path):
    src = write(tmp_path, "peaks.bed", BED)
    assert detect_format(src) == "bed"
    out = tmp_path / "a.parquet"
    write_annotation_table(src, out)
    rows = pq.read_table(out).to_pylist()
    assert [(r["seqid"], r["start"], r["end"], r["strand"], r["name"]) for r in rows] == [
        ("chr1", 0, 5, ".", ""),
        ("chr1", 10, 20, "+", "peak1"),
        ("chr2", 7, 9, "-", "p2"),
    ]
    assert {r["type"] for r in rows} == {"region"}


def test_suffix_breaks_a_tie_and_explicit_format_wins(tmp_path):
    ambiguous = "chr1\tsrc\tgene\t1\t10\t.\t+\t.\t.\n"
    assert detect_format(write(tmp_path, "a.gtf.gz", ambiguous, gz=True)) == "gtf"
    assert detect_format(write(tmp_path, "a.gff", ambiguous)) == "gff3"
    with pytest.raises(AnnotationError, match=r"cannot tell whether .*a\.txt is GFF3, GTF or BED"):
        detect_format(write(tmp_path, "a.txt", ambiguous))
    assert read_annotation(tmp_path / "a.txt", "gff3").num_rows == 1


@pytest.mark.parametrize(
    ("fmt", "text", "message"),
    [
        (
            "gff3",
            "chr1\tsrc\tgene\t1\t10\n",
            r"line 1: expected 9 tab-separated columns \(GFF3\), found 5",
        ),
        (
            "gff3",
            "#\nchr1\ts\tgene\tone\t10\t.\t+\t.\tID=a\n",
            r"line 2: start 'one' is not an integer",
        ),
        (
            "gtf",
            'chr1\ts\texon\t20\t10\t.\t+\t.\tgene_id "a";\n',
            r"line 1: start 20 and end 10 must satisfy",
        ),
        ("gff3", "chr1\ts\tgene\t1\t10\t.\tplus\t.\tID=a\n", r"line 1: strand 'plus' must be"),
        ("bed", "chr1\t5\n", r"line 1: BED needs at least 3 columns"),
        (
            "bed",
            "chr1\t-1\t5\n",
            r"line 1: interval -1-5 is empty or negative; BED needs 0 <= start",
        ),
        ("auto", "##gff-version 3\n# nothing\n", r"holds no features"),
    ],
)
def test_bad_lines_are_errors_naming_file_and_line(tmp_path, fmt, text, message):
    src = write(tmp_path, "bad.ann", text)
    with pytest.raises(AnnotationError, match=r"bad\.ann.*" + message):
        read_annotation(src, fmt)


def test_gz_suffix_on_plain_annotation_is_an_error(tmp_path):
    src = write(tmp_path, "genes.gff3.gz", GFF3)
    with pytest.raises(AnnotationError, match="is named like a gzip file but is not"):
        read_annotation(src)


def test_features_off_the_genome_are_dropped_with_a_warning(tmp_path, caplog):
    src = write(tmp_path, "genes.gff3", GFF3)
    fai = tmp_path / "genome.fa.gz.fai"
    fai.write_text("chr1\t45\t6\t60\t61\nchr3\t100\t60\t60\t61\n")
    out = tmp_path / "a.parquet"
    with caplog.at_level(logging.WARNING, logger="dnatune.genome.annotation"):
        counts = write_annotation_table(src, out, fai=fai)
    assert counts == {"CDS": 1, "repeat_region": 1}  # chr1 gene ends at 50 > 45; chr2 unknown
    assert "dropped 1 features on 1 sequences absent from the genome (chr2)" in caplog.text
    assert "dropped 1 features that end past their contig" in caplog.text


def test_annotation_of_another_assembly_is_an_error(tmp_path):
    src = write(tmp_path, "genes.gff3", GFF3)
    fai = tmp_path / "genome.fa.gz.fai"
    fai.write_text("1\t1000\t3\t60\t61\n2\t1000\t1023\t60\t61\n")
    out = tmp_path / "a.parquet"
    with pytest.raises(
        AnnotationError, match=r"none of its sequence names \(chr1, chr2\) is a contig"
    ):
        write_annotation_table(src, out, fai=fai)
    assert not out.exists()


def test_empty_table_schema_types():
    table = pa.table({n: [] for n in SCHEMA.names}, schema=SCHEMA)
    assert table.schema.field("start").type == pa.int64()


def test_truncated_gzip_annotation_is_an_error(tmp_path):
    src = tmp_path / "genes.gff3.gz"
    features = GFF3.split("##FASTA")[0].encode()
    src.write_bytes(gzip.compress(features * 200)[:-20])
    with pytest.raises(AnnotationError, match=r"genes\.gff3\.gz: compressed data is corrupt"):
        read_annotation(src, "gff3")
