"""Readers of user task files: csv, tsv, parquet and FASTA, with errors that point at the fix."""

import pandas as pd
import pytest

from dnatune.tasks.sources import (
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


# ---------------------------------------------------------------- ids


def test_table_ids_from_the_id_column_else_line_numbers(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("id,sequence,label\n007,ACGT,1\nx2,GGCC,0\n")
    frame = read_table(str(path), "csv", {})
    assert frame["id"].tolist() == ["007", "x2"]  # as written: leading zeros kept
    assert frame.attrs["id_source"] == "column 'id'"
    path.write_text("name,sequence,label\nr1,ACGT,1\nr2,GGCC,0\n")
    assert read_table(str(path), "csv", {})["id"].tolist() == ["t.csv:2", "t.csv:3"]
    named = read_table(str(path), "csv", {"id_column": "name"})
    assert named["id"].tolist() == ["r1", "r2"] and named.attrs["id_source"] == "column 'name'"
    path.write_text("id,sequence,label\na,ACGT,1\nb,GGCC,0\n")
    numbered = read_table(str(path), "csv", {"id_column": False})
    assert numbered["id"].tolist() == ["t.csv:2", "t.csv:3"]
    assert numbered.attrs["id_source"] == "line numbers ('<file>:<line>', the header is line 1)"


def test_parquet_ids_are_text_and_rows_count_from_zero(tmp_path):
    path = tmp_path / "t.parquet"
    pd.DataFrame({"id": [10, 11], "sequence": ["AC", "GT"], "label": [0, 1]}).to_parquet(path)
    assert read_table(str(path), "parquet", {})["id"].tolist() == ["10", "11"]
    pd.DataFrame({"sequence": ["AC", "GT"], "label": [0, 1]}).to_parquet(path)
    assert read_table(str(path), "parquet", {})["id"].tolist() == ["t.parquet:0", "t.parquet:1"]


def test_a_missing_id_column_or_id_value_is_a_clear_error(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("sequence,label\nACGT,1\n")
    with pytest.raises(TaskInputError, match=r"t\.csv: no id column 'name' \(source\.id_column\)"):
        read_table(str(path), "csv", {"id_column": "name"})
    path.write_text("id,sequence,label\na,ACGT,1\n,GGCC,0\n")
    with pytest.raises(
        TaskInputError,
        match=r"1 example\(s\) without an id in column 'id' \(first: .*t\.csv line 3",
    ):
        read_table(str(path), "csv", {})


def test_fasta_ids_are_record_names(tmp_path):
    path = tmp_path / "t.fa"
    path.write_text(">s1 label=1 extra\nACGT\n>s2|0\nGG\n")
    frame = read_fasta(str(path), {})
    assert frame["id"].tolist() == ["s1", "s2|0"]
    assert frame.attrs["id_source"] == "FASTA record names"


def test_line_ids_name_the_split_file_or_its_path_when_names_clash(tmp_path):
    for split in ("train", "val", "test"):
        (tmp_path / f"{split}.csv").write_text("sequence,label\nACGT,1\n")
        (tmp_path / split).mkdir()
        (tmp_path / split / "seqs.csv").write_text("sequence,label\nACGT,1\n")
    frames = read_file_source("csv", split_files(str(tmp_path / "{split}.csv")), {})
    assert frames["test"]["id"].tolist() == ["test.csv:2"]
    frames = read_file_source("csv", split_files(str(tmp_path / "{split}" / "seqs.csv")), {})
    assert frames["test"]["id"].tolist() == [f"{tmp_path / 'test' / 'seqs.csv'}:2"]
