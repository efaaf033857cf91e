"""Public benchmark layouts (GUE, NT, Genomic Benchmarks, BEND, coordinates over a genome),
read as published from tiny folders built here, and the suites' protocol presets."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from genome_fixtures import write_genome

from dnatune.config import ConfigError
from dnatune.genome.kmer import reverse_complement_text as reverse_complement
from dnatune.tasks.build import build_task
from dnatune.tasks.protocols import apply_protocols
from dnatune.tasks.sources import TaskInputError
from dnatune.tasks.spec import check_task_specs, task_genomes, task_source_files

LENGTH = 6_000


@pytest.fixture(scope="module")
def genome(tmp_path_factory) -> dict:
    rng = np.random.default_rng(3)
    sequences = {c: "".join(rng.choice(list("ACGT"), size=LENGTH)) for c in ("1", "2", "3")}
    root = tmp_path_factory.mktemp("genome")
    return {"fasta": write_genome(root / "genome.fa.gz", sequences), "sequences": sequences}


def splits(out: Path) -> dict[str, pd.DataFrame]:
    return {s: pd.read_parquet(out / f"{s}.parquet") for s in ("train", "val", "test")}


def write_gz_csv(path: Path, rows: list[tuple]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "id,region,start,end,strand\n" + "".join(",".join(map(str, r)) + "\n" for r in rows)
    path.write_bytes(gzip.compress(text.encode(), mtime=0))


def genomic_benchmarks_folder(root: Path, processing: str | None = None) -> Path:
    """Two classes, 20 train and 6 test intervals each, regions named chr1/chr2 (UCSC)."""
    folder = root / "human_demo"
    extra = f"    extra_processing: {processing}\n" if processing else ""
    classes = "".join(
        f"  {c}:\n{extra}    type: fa.gz\n    url: http://example.org/ref.fa.gz\n"
        for c in ("negative", "positive")
    )
    folder.mkdir(parents=True)
    (folder / "metadata.yaml").write_text(f"classes:\n{classes}version: 0\n")
    for split, count in (("train", 20), ("test", 6)):
        for k, cls in enumerate(("negative", "positive")):
            rows = [
                (i, f"chr{1 + i % 2}", 100 + 200 * i + 40 * k, 150 + 200 * i + 40 * k, "+-"[i % 2])
                for i in range(count)
            ]
            if split == "test":
                rows = [(i, "chr3", 100 * i + 50 * k, 100 * i + 50 * k + 40, "+") for i in range(6)]
            write_gz_csv(folder / split / f"{cls}.csv.gz", rows)
    return folder


def gb_spec(folder: Path, genome="hg") -> dict:
    return {
        "type": "binary",
        "source": {"genomic_benchmarks": {"path": str(folder), "genome": genome}},
    }


# ---------------------------------------------------------------- GUE and NT


def test_gue_folder_reads_train_dev_test(tmp_path):
    folder = tmp_path / "prom_300_all"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for split, n in (("train", 30), ("dev", 10), ("test", 10)):
        lines = ["sequence,label"] + [
            "".join(rng.choice(list("ACGT"), size=20)) + f",{i % 2}" for i in range(n)
        ]
        (folder / f"{split}.csv").write_text("\n".join(lines) + "\n")
    spec = {"type": "binary", "source": {"gue": str(folder)}}
    assert task_source_files(spec["source"]) == {
        s: str(folder / f)
        for s, f in (("train", "train.csv"), ("val", "dev.csv"), ("test", "test.csv"))
    }
    meta = build_task("gue", spec, tmp_path / "out")
    assert meta["counts"] == {"train": 30, "val": 10, "test": 10}
    assert meta["split_method"] == "user"
    parts = splits(tmp_path / "out")
    assert parts["val"]["id"].str.startswith("dev.csv:").all()
    dev = pd.read_csv(folder / "dev.csv")
    row = parts["val"].set_index("id").loc["dev.csv:2"]
    assert row["sequence"] == dev["sequence"][0] and row["label"] == dev["label"][0]


def test_gue_folder_without_dev_names_the_missing_file(tmp_path):
    (tmp_path / "train.csv").write_text("sequence,label\nACGT,0\nACGA,1\n")
    with pytest.raises(
        TaskInputError, match=r"dev\.csv: missing; a GUE task folder holds train\.csv, dev\.csv"
    ):
        build_task("gue", {"type": "binary", "source": {"gue": str(tmp_path)}}, tmp_path / "o")


def test_nt_folder_reads_pipe_labels_and_carves_val(tmp_path):
    rng = np.random.default_rng(1)
    for split, n in (("train", 40), ("test", 10)):
        records = "".join(
            f">{split}_seq{i}|{i % 2}\n" + "".join(rng.choice(list("ACGT"), size=30)) + "\n"
            for i in range(n)
        )
        (tmp_path / f"{split}.fna").write_text(records)
    spec = {"type": "binary", "source": {"nt": str(tmp_path), "split": {"val": 0.25}}}
    meta = build_task("nt", spec, tmp_path / "out")
    assert meta["counts"] == {"train": 30, "val": 10, "test": 10}
    assert meta["split_method"] == "user, val carved from train"
    assert meta["split_detail"] == {"val_fraction": 0.25, "seed": 0, "stratified": True}
    parts = splits(tmp_path / "out")
    assert parts["val"]["id"].str.startswith("train_seq").all()
    assert parts["test"].set_index("id").loc["test_seq3|1", "label"] == 1
    assert meta["class_counts"]["val"] == {"0": 5, "1": 5}


# ---------------------------------------------------------------- Genomic Benchmarks


def test_genomic_benchmarks_cuts_classes_from_the_genome(genome, tmp_path):
    folder = genomic_benchmarks_folder(tmp_path, "ENSEMBL_HUMAN_GENOME")
    spec = gb_spec(folder)
    files = task_source_files(spec["source"])
    assert files["metadata"] == str(folder / "metadata.yaml")
    assert sorted(v for k, v in files.items() if k != "metadata") == sorted(
        str(folder / s / f"{c}.csv.gz") for s in ("train", "test") for c in ("negative", "positive")
    )
    meta = build_task("gb", spec, tmp_path / "out", inputs={"genome": genome["fasta"]})
    assert meta["label_names"] == ["negative", "positive"]
    assert meta["counts"]["test"] == 12 and meta["counts"]["train"] + meta["counts"]["val"] == 40
    assert meta["split_method"] == "user, val carved from train"
    rows = pd.concat(splits(tmp_path / "out").values()).set_index("id")
    # ids as the package names its files: <split>/<class>/<id>; chr1 is the Ensembl genome's 1
    plus = rows.loc["train/positive/2"]  # i=2: chr1, + strand, 0-based end-exclusive
    assert plus["sequence"] == genome["sequences"]["1"][100 + 400 + 40 : 150 + 400 + 40]
    minus = rows.loc["train/negative/1"]  # i=1: chr2, - strand
    assert minus["sequence"] == reverse_complement(genome["sequences"]["2"][300:350])
    assert (plus["chrom"], plus["label"]) == ("chr1", 1)


def drop_test_class_file(folder: Path) -> None:
    (folder / "test" / "positive.csv.gz").unlink()


def write_past_the_end(folder: Path) -> None:
    write_gz_csv(folder / "test" / "negative.csv.gz", [(0, "chr3", LENGTH - 10, LENGTH + 30, "+")])


@pytest.mark.parametrize(
    ("processing", "damage", "error"),
    [
        # without metadata's ENSEMBL_HUMAN_GENOME, the files' chr1 is not the genome's 1
        (
            None,
            None,
            r"train/negative\.csv\.gz line 2: chromosome 'chr1' is not in the genome 'hg' "
            r"\(.*contigs: 1, 2, 3\)",
        ),
        (
            "ENSEMBL_HUMAN_GENOME",
            drop_test_class_file,
            r"test/positive\.csv\.gz: missing class file; .*metadata\.yaml lists the classes "
            r"\['negative', 'positive'\]",
        ),
        (
            "ENSEMBL_HUMAN_GENOME",
            write_past_the_end,
            rf"test/negative\.csv\.gz line 2: interval chr3:{LENGTH - 10}-{LENGTH + 30} lies "
            rf"outside the chromosome \(length {LENGTH} in the genome 'hg'",
        ),
    ],
    ids=["unknown contig", "missing class file", "past the contig end"],
)
def test_genomic_benchmarks_bad_input_names_the_file_and_line(
    genome, tmp_path, processing, damage, error
):
    folder = genomic_benchmarks_folder(tmp_path, processing)
    if damage:
        damage(folder)
    with pytest.raises(TaskInputError, match=error):
        build_task("gb", gb_spec(folder), tmp_path / "out", inputs={"genome": genome["fasta"]})


def test_genomic_benchmarks_genome_per_class_and_missing_metadata(genome, tmp_path):
    folder = genomic_benchmarks_folder(tmp_path, "ENSEMBL_HUMAN_GENOME")
    spec = gb_spec(folder, {"negative": "hg", "positive": "other"})
    assert task_genomes(spec["source"]) == ["hg", "other"]
    inputs = {"genome_hg": genome["fasta"], "genome_other": genome["fasta"]}
    assert build_task("gb", spec, tmp_path / "a", inputs=inputs)["counts"]["test"] == 12
    spec = gb_spec(folder, {"negative": "hg"})
    with pytest.raises(TaskInputError, match=r"no genome for class 'positive'"):
        build_task("gb", spec, tmp_path / "b", inputs=inputs)
    with pytest.raises(TaskInputError, match=r"no metadata\.yaml, so this is not a Genomic"):
        build_task("gb", gb_spec(tmp_path), tmp_path / "c", inputs=inputs)


# ---------------------------------------------------------------- BEND and regions


def write_regions(path: Path, header: str, rows: list[str]) -> str:
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return str(path)


def bend_rows(splits_used=("train", "valid", "test")) -> list[str]:
    rows = []
    for i in range(36):
        split = splits_used[i % len(splits_used)]
        rows.append(f"{1 + i % 3}\t{100 * i}\t{100 * i + 60}\t{'+-'[i % 2]}\t{split}\t{i // 2 % 2}")
    return rows


def test_bend_file_keeps_its_splits_and_strands(genome, tmp_path):
    path = write_regions(
        tmp_path / "enh.bed", "chromosome\tstart\tend\tstrand\tsplit\tlabel", bend_rows()
    )
    spec = {"type": "binary", "source": {"bend": {"path": path, "genome": "hg38"}}}
    meta = build_task("bend", spec, tmp_path / "out", inputs={"genome": genome["fasta"]})
    assert meta["counts"] == {"train": 12, "val": 12, "test": 12}
    assert meta["split_method"] == "user"
    rows = pd.concat(splits(tmp_path / "out").values()).set_index("id")
    minus = rows.loc["2:100-160"]  # i=1: chromosome 2, - strand
    assert minus["sequence"] == reverse_complement(genome["sequences"]["2"][100:160])
    assert minus["strand"] == "-"


def raises_on(genome, tmp_path, kind: str, path: str, error: str) -> None:
    """Building a `kind` task (bend or regions) from `path` fails with `error`."""
    spec = {"type": "binary", "source": {kind: {"path": path, "genome": "hg38"}}}
    with pytest.raises(TaskInputError, match=error):
        build_task("t", spec, tmp_path / "out", inputs={"genome": genome["fasta"]})


def test_bend_without_a_test_split_or_with_an_unknown_one(genome, tmp_path):
    header = "chromosome\tstart\tend\tsplit\tlabel"
    rows = [r.split("\t") for r in bend_rows(("train", "valid"))]
    path = write_regions(tmp_path / "a.bed", header, ["\t".join(r[:3] + r[4:]) for r in rows])
    raises_on(
        genome,
        tmp_path,
        "bend",
        path,
        r"a\.bed: the split column holds \['train', 'valid'\], no test",
    )
    path = write_regions(tmp_path / "b.bed", header, ["1\t0\t50\tfold1\t0"])
    raises_on(genome, tmp_path, "bend", path, r"b\.bed line 2: split 'fold1' is not one of")
    path = write_regions(tmp_path / "c.bed", "chromosome\tstart\tend\tlabel", ["1\t0\t50\t0"])
    raises_on(genome, tmp_path, "bend", path, r"c\.bed: no 'split' column")


def test_regions_unknown_contig_names_the_genome(genome, tmp_path):
    rows = ["1\t0\t50\ta", "chrX\t0\t50\tb"]
    path = write_regions(tmp_path / "r.tsv", "chrom\tstart\tend\tlabel", rows)
    error = (
        r"r\.tsv line 3: chromosome 'chrX' is not in the genome 'hg38' \(.*genome\.fa\.gz; "
        r"contigs: 1, 2, 3\)"
    )
    raises_on(genome, tmp_path, "regions", path, error)


def test_regions_without_split_are_split_by_genome_and_ids_from_name(genome, tmp_path):
    rows = [f"{1 + i % 3},{200 * i},{200 * i + 50},peak{i},{'ab'[i % 2]}" for i in range(30)]
    path = write_regions(tmp_path / "r.csv", "#chrom,start,end,name,class", rows)
    regions = {"path": path, "genome": "g", "label": "class"}
    split = {"by": "chromosome", "val": 0.3, "test": 0.3}
    spec = {"type": "binary", "source": {"regions": regions, "split": split}}
    meta = build_task("r", spec, tmp_path / "out", inputs={"genome": genome["fasta"]})
    assert meta["split_method"] == "chromosome"
    assert [len(meta["split_detail"][s]) for s in ("train", "val", "test")] == [1, 1, 1]
    rows = pd.concat(splits(tmp_path / "out").values()).set_index("id")
    assert rows.loc["peak4", "sequence"] == genome["sequences"]["2"][800:850]
    assert meta["ids"] == "the file's id (or name) column"


def test_regions_needs_a_header(genome, tmp_path):
    path = write_regions(tmp_path / "r.bed", "1\t0\t50\ta", ["1\t60\t90\tb"])
    raises_on(genome, tmp_path, "regions", path, r"r\.bed line 1: no header line")
    path = write_regions(tmp_path / "s.tsv", "chrom\tstart\tend\tscore", ["1\t60\t90\tb"])
    raises_on(genome, tmp_path, "regions", path, r"s\.tsv line 1: the header .* lacks \['label'\]")


# ---------------------------------------------------------------- config checks and protocols


def base_config(**tasks) -> dict:
    return {"genomes": {"hg38": {}}, "finetune": {"seeds": [7]}, "tasks": tasks}


def test_unknown_genome_of_a_suite_is_a_config_error():
    config = base_config(
        t={"type": "binary", "source": {"bend": {"path": "x.bed", "genome": "hg19"}}}
    )
    with pytest.raises(
        ConfigError, match=r"tasks\.t\.source\.bend\.genome': unknown genome 'hg19'"
    ):
        check_task_specs(config)


def test_protocols_fill_metric_and_settings_and_written_keys_win():
    config = base_config(
        a={"type": "binary", "protocol": "gue", "source": {"gue": "d"}},
        b={
            "type": "binary",
            "protocol": "gue",
            "metric": "auroc",
            "finetune": {"seeds": [1]},
            "source": {"gue": "d"},
        },
        c={"type": "multiclass", "protocol": "genomic_benchmarks", "source": {"nt": "d"}},
        d={"type": "multilabel", "protocol": "bend", "source": {"nt": "d"}},
        f={
            "type": "binary",
            "protocol": "bend",
            "finetune": {"method": "lora"},
            "source": {"nt": "d"},
        },
        e={"type": "binary", "source": {"nt": "d"}},
    )
    apply_protocols(config)
    tasks = config["tasks"]
    assert (tasks["a"]["metric"], tasks["a"]["finetune"]) == ("mcc", {})
    assert (tasks["b"]["metric"], tasks["b"]["finetune"]) == ("auroc", {"seeds": [1]})
    assert tasks["c"]["metric"] == "accuracy"
    assert (tasks["d"]["metric"], tasks["d"]["finetune"]) == ("macro_auroc", {"method": "probe"})
    assert (tasks["f"]["metric"], tasks["f"]["finetune"]) == ("auroc", {"method": "lora"})
    assert "metric" not in tasks["e"] and "finetune" not in tasks["e"]


def test_a_protocol_without_a_metric_for_the_type_says_so():
    config = base_config(r={"type": "regression", "protocol": "nt", "source": {"nt": "d"}})
    with pytest.raises(
        ConfigError, match=r"tasks\.r\.protocol': .*not regression.*set tasks\.r\.metric"
    ):
        apply_protocols(config)


def test_meta_records_the_carved_val_for_suites_without_one(genome, tmp_path):
    folder = genomic_benchmarks_folder(tmp_path, "ENSEMBL_HUMAN_GENOME")
    build_task("gb", gb_spec(folder), tmp_path / "out", inputs={"genome": genome["fasta"]})
    meta = json.loads((tmp_path / "out" / "meta.json").read_text())
    assert meta["split_method"] == "user, val carved from train"
    assert meta["ids"].startswith("'<split>/<class>/<id>'")
