"""Readers of user task files: csv, tsv, parquet and FASTA, with errors that point at the fix."""

import pandas as pd
import pytest

from dnatune.task_sources import (
    TaskInputError,
    read_fasta,
    read_file_source,
    read_table,
    source_kind,
    split_files,
)


def test_split_files_prefers_val_then_dev(tmp_path):
    for name in ("train", "dev", "test"):
        (tmp_path / f"{name}.csv").write_text("sequence,label\nACGT,1\n")
    files = split_files(str(tmp_path / "{split}.csv"))
    assert files == {
        "train": str(tmp_path / "train.csv"),
        "val": str(tmp_path / "dev.csv"),
        "test": str(tmp_path / "test.csv"),
    }
    (tmp_path / "val.csv").write_text("sequence,label\nACGT,1\n")
    assert split_files(str(tmp_path / "{split}.csv"))["val"] == str(tmp_path / "val.csv")


def test_split_files_without_val_leaves_it_to_be_carved(tmp_path):
    for name in ("train", "test"):
        (tmp_path / f"{name}.tsv").write_text("sequence\tlabel\n")
    assert set(split_files(str(tmp_path / "{split}.tsv"))) == {"train", "test"}


def test_split_files_lists_missing_files_so_snakemake_reports_them(tmp_path):
    files = split_files(str(tmp_path / "{split}.csv"))
    assert files["val"].endswith("val.csv") and set(files) == {"train", "val", "test"}
    assert split_files("data/all.csv") == {"table": "data/all.csv"}


def test_source_kind():
    assert source_kind({"tsv": "x.tsv", "split": {}}) == "tsv"
    assert source_kind({"annotation": {"genome": "g", "feature": "CDS"}}) == "annotation"


def test_csv_missing_column_names_file_columns_and_key(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("seq,label\nACGT,1\n")
    with pytest.raises(
        TaskInputError, match=r"t\.csv: missing column\(s\) \['sequence'\].*seq.*sequence_column"
    ):
        read_table(str(path), "csv", {})


def test_csv_custom_columns_and_line_numbers(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("id,dna,y\na,ACGT,pos\nb,GGCC,neg\n")
    frame = read_table(str(path), "csv", {"sequence_column": "dna", "label_column": "y"})
    assert frame["sequence"].tolist() == ["ACGT", "GGCC"]
    assert frame["label"].tolist() == ["pos", "neg"]
    assert frame["_where"].tolist() == [f"{path} line 2", f"{path} line 3"]


def test_tsv_keeps_coordinates(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("sequence\tlabel\tchrom\tstart\tend\nACGT\t1\tchr1\t0\t4\n")
    frame = read_table(str(path), "tsv", {})
    assert frame[["chrom", "start", "end"]].iloc[0].tolist() == ["chr1", "0", "4"]


def test_empty_csv_is_a_clear_error(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(TaskInputError, match=r"empty\.csv: the file is empty"):
        read_table(str(path), "csv", {})


def test_a_header_only_file_says_it_has_no_rows(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text("sequence,label\n")
    with pytest.raises(TaskInputError, match=r"train\.csv: the file has no rows below its header"):
        read_table(str(path), "csv", {})
    path = tmp_path / "train.parquet"
    pd.DataFrame({"sequence": [], "label": []}).to_parquet(path)
    with pytest.raises(TaskInputError, match=r"train\.parquet: the file has no rows\. Fix"):
        read_table(str(path), "parquet", {})


def test_parquet_rows_are_located_by_row(tmp_path):
    path = tmp_path / "t.parquet"
    pd.DataFrame({"sequence": ["AC", "GT"], "label": [0.5, 1.5]}).to_parquet(path)
    frame = read_table(str(path), "parquet", {})
    assert frame["label"].tolist() == [0.5, 1.5]
    assert frame["_where"].iloc[1] == f"{path} row 1"


def test_multilabel_columns_become_name_lists(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("sequence,a,b,c\nACGT,1,0,1\nGGGG,0,0,0\n")
    frame = read_table(str(path), "csv", {"label_columns": ["a", "b", "c"]})
    assert frame["label"].tolist() == [["a", "c"], []]
    assert frame.attrs["label_names"] == ["a", "b", "c"]


def test_multilabel_column_not_zero_one_names_line_and_column(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("sequence,a,b\nACGT,1,0\nGGGG,0,yes\n")
    with pytest.raises(TaskInputError, match=r"t\.csv line 3: column 'b' holds 'yes'.*0 or 1"):
        read_table(str(path), "csv", {"label_columns": ["a", "b"]})


def test_fasta_label_from_key_value_or_pipe(tmp_path):
    path = tmp_path / "t.fa"
    path.write_text(">s1 label=1 extra\nACGT\nAC\n>s2|0\nGG\n")
    frame = read_fasta(str(path), {})
    assert frame["label"].tolist() == ["1", "0"]
    assert frame["sequence"].tolist()[0] == "ACGTAC"
    # a different key through source.label_column
    path.write_text(">s3 note=x class=b\nTT\n")
    assert read_fasta(str(path), {"label_column": "class"})["label"].tolist() == ["b"]


def test_fasta_without_label_names_record_and_format(tmp_path):
    path = tmp_path / "t.fa"
    path.write_text(">s1 label=1\nACGT\n>s2 nolabel\nGG\n")
    with pytest.raises(
        TaskInputError, match=r"t\.fa record 2 \(>s2\): no label.*'>ID label=VALUE' or '>ID\|VALUE'"
    ):
        read_fasta(str(path), {})


def test_read_file_source_returns_splits_or_table(tmp_path):
    for name in ("train", "val", "test"):
        (tmp_path / f"{name}.fa").write_text(f">{name}|1\nACGT\n")
    files = split_files(str(tmp_path / "{split}.fa"))
    frames = read_file_source("fasta", files, {})
    assert set(frames) == {"train", "val", "test"}
    table = read_file_source("fasta", {"table": str(tmp_path / "train.fa")}, {})
    assert isinstance(table, pd.DataFrame)
