"""Genome-derived tasks: BED intervals and annotation features vs matched background,
built on a tiny bgzip genome and annotation written here."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest
from genome_fixtures import write_genome

from dnatune.genome.kmer import reverse_complement_text as reverse_complement
from dnatune.tasks.build import build_task
from dnatune.tasks.from_genome import read_bed
from dnatune.tasks.genome_sequences import gc_fraction
from dnatune.tasks.sources import TaskInputError

CHROM_LENGTH = 40_000
GAP = (5_550, 5_950)  # an N gap on chr1, with one promoter inside it


def random_dna(rng, n: int, gc: float) -> str:
    p = [(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2]
    return "".join(rng.choice(list("ACGT"), size=n, p=p))


@pytest.fixture(scope="module")
def genome(tmp_path_factory) -> dict:
    """4 chromosomes, GC-rich first half and AT-rich second half; features in the first half."""
    root = tmp_path_factory.mktemp("genome")
    rng = np.random.default_rng(0)
    sequences = {}
    for i in range(1, 5):
        half = CHROM_LENGTH // 2
        sequence = random_dna(rng, half, 0.65) + random_dna(rng, half, 0.35)
        if i == 1:
            sequence = sequence[: GAP[0]] + "N" * (GAP[1] - GAP[0]) + sequence[GAP[1] :]
        sequences[f"chr{i}"] = sequence.lower() if i == 2 else sequence  # soft-masked chr2
    fasta = write_genome(root / "genome.fa.gz", sequences)
    rows = []
    for chrom in sequences:
        for k, start in enumerate(range(1_000, 19_000, 1_000)):
            strand = "+-"[k % 2]
            rows.append((chrom, start, start + 100, strand, "promoter", "", f"ID=p{k}"))
            cls = "AB"[k % 2]
            rows.append(
                (chrom, start + 400, start + 500, ".", "enhancer", "", f"ID=e{k};class={cls}")
            )
    rows.append(("chr1", 5_700, 5_800, "+", "promoter", "", "ID=in_gap"))
    rows.append(("chr3", 30_000, 31_000, "-", "CDS", "", "ID=cds1"))
    annotation = pd.DataFrame(
        rows, columns=["seqid", "start", "end", "strand", "type", "name", "attributes"]
    ).sort_values(["seqid", "start"])
    annotation_path = str(root / "annotation.parquet")
    annotation.to_parquet(annotation_path, index=False)
    return {
        "fasta": fasta,
        "annotation": annotation_path,
        "sequences": {c: s.upper() for c, s in sequences.items()},
        "features": annotation,
        "root": root,
    }


def inputs(genome: dict) -> dict:
    return {"genome": genome["fasta"], "annotation": genome["annotation"]}


def splits(out: Path) -> pd.DataFrame:
    return pd.concat(
        pd.read_parquet(out / f"{s}.parquet").assign(split=s) for s in ("train", "val", "test")
    )


def overlaps_any(rows: pd.DataFrame, features: pd.DataFrame) -> np.ndarray:
    hit = np.zeros(len(rows), dtype=bool)
    for i, row in enumerate(rows.itertuples()):
        same = features[features["seqid"] == row.chrom]
        hit[i] = ((same["start"] < row.end) & (same["end"] > row.start)).any()
    return hit


# ---------------------------------------------------------------- bed


def write_bed(path: Path, lines: list[str]) -> str:
    path.write_text("track name=test\n# comment\n" + "\n".join(lines) + "\n")
    return str(path)


def test_bed_sequences_respect_strand_and_labels(genome, tmp_path):
    seqs = genome["sequences"]
    lines = []
    for i in range(200):
        chrom = f"chr{i % 4 + 1}"
        start = 20_000 + 80 * i
        label = "pos" if (i // 4) % 2 else "neg"
        lines.append(f"{chrom}\t{start}\t{start + 50}\t{label}\t{i / 100}\t{'+-'[i % 3 == 0]}")
    path = write_bed(tmp_path / "t.bed", lines)
    spec = {"type": "binary", "source": {"bed": {"path": path, "genome": "g"}}}
    meta = build_task("b", spec, tmp_path / "out", inputs={"bed": path, "genome": genome["fasta"]})
    assert meta["label_names"] == ["neg", "pos"]
    assert meta["split_method"] == "region"
    rows = splits(tmp_path / "out")
    for row in rows.itertuples():
        expected = seqs[row.chrom][row.start : row.end]
        assert row.sequence == (reverse_complement(expected) if row.strand == "-" else expected)
    assert (rows["strand"] == "-").any() and (rows["strand"] == "+").any()
    # the score column as a regression label
    spec = {
        "type": "regression",
        "source": {"bed": {"path": path, "genome": "g", "label": "score"}},
    }
    meta = build_task("r", spec, tmp_path / "reg", inputs={"bed": path, "genome": genome["fasta"]})
    labels = splits(tmp_path / "reg")["label"]
    assert meta["label_names"] == ["score"] and labels.max() <= 1.99 and labels.dtype == np.float64


def test_bed_recentred_to_length(tmp_path):
    path = write_bed(tmp_path / "t.bed", ["chr1\t100\t110\tx", "chr1\t500\t800\ty"])
    frame = read_bed(path, length=50)
    assert (frame["end"] - frame["start"]).tolist() == [50, 50]
    assert frame["start"].tolist() == [80, 625]
    assert frame["_where"].tolist() == [f"{path} line 3", f"{path} line 4"]


def test_bed_unknown_chromosome_names_line(genome, tmp_path):
    path = write_bed(tmp_path / "t.bed", ["chr1\t100\t150\ta", "1\t100\t150\tb"])
    spec = {"type": "binary", "source": {"bed": {"path": path, "genome": "g"}}}
    with pytest.raises(
        TaskInputError,
        match=r"t\.bed line 4: chromosome '1' is not in the genome.*chr1.*'chr1' versus '1'",
    ):
        build_task("b", spec, tmp_path / "out", inputs={"bed": path, "genome": genome["fasta"]})


def test_bed_interval_past_chromosome_end_names_line(genome, tmp_path):
    path = write_bed(tmp_path / "t.bed", [f"chr2\t{CHROM_LENGTH - 10}\t{CHROM_LENGTH + 40}\ta"])
    spec = {"type": "binary", "source": {"bed": {"path": path, "genome": "g"}}}
    with pytest.raises(
        TaskInputError, match=r"t\.bed line 3: interval chr2:39990-40040 lies outside"
    ):
        build_task("b", spec, tmp_path / "out", inputs={"bed": path, "genome": genome["fasta"]})


def test_bed_without_label_column_and_bad_coordinates(tmp_path):
    path = write_bed(tmp_path / "t.bed", ["chr1\t100\t150"])
    with pytest.raises(
        TaskInputError, match=r"line 3: 3 column\(s\), but the label is the name \(column 4\)"
    ):
        read_bed(path)
    path = write_bed(tmp_path / "u.bed", ["chr1\t100\tx\ta"])
    with pytest.raises(TaskInputError, match=r"u\.bed line 3: start/end must be integers"):
        read_bed(path)
    path = write_bed(tmp_path / "v.bed", ["chr1\t150\t100\ta"])
    with pytest.raises(TaskInputError, match=r"v\.bed line 3: interval 150-100 is empty"):
        read_bed(path)


def test_bed_ids_are_unique_names_else_the_file_coordinates(genome, tmp_path):
    named = ["chr1\t100\t150\tpeak_1\t0.5", "chr1\t300\t350\tpeak_2\t1.5"]
    frame = read_bed(write_bed(tmp_path / "n.bed", named), label="score", length=20)
    assert frame["id"].tolist() == ["peak_1", "peak_2"]
    assert frame.attrs["id_source"] == "BED name column"
    # the name is the label (the default), or names repeat or are '.': coordinates as in the
    # file, before re-centring
    for label, lines in (
        ("name", named),
        ("score", [*named, "chr2\t10\t60\tpeak_1\t1"]),
        ("score", ["chr1\t100\t150\t.\t0.5", "chr1\t300\t350\tpeak_2\t1.5"]),
    ):
        frame = read_bed(write_bed(tmp_path / "c.bed", lines), label=label, length=20)
        assert frame["id"].tolist()[:2] == ["chr1:100-150", "chr1:300-350"]
        assert frame.attrs["id_source"] == "BED coordinates chrom:start-end"
    # the same interval twice (here on both strands) is a duplicate id
    lines = [f"chr1\t{20_000 + 80 * i}\t{20_050 + 80 * i}\t{'ab'[i % 2]}" for i in range(40)]
    path = write_bed(tmp_path / "d.bed", [*lines, "chr1\t20000\t20050\ta\t0\t-"])
    spec = {"type": "binary", "source": {"bed": {"path": path, "genome": "g"}}}
    with pytest.raises(
        TaskInputError,
        match=r"id 'chr1:20000-20050' \(BED coordinates chrom:start-end\) occurs 2 times: "
        r"\S*d\.bed line 3; \S*d\.bed line 43.*Fix: remove the repeated intervals",
    ):
        build_task("d", spec, tmp_path / "out", inputs={"bed": path, "genome": genome["fasta"]})


# ---------------------------------------------------------------- annotation


def test_promoter_task_positives_negatives_and_region_split(genome, tmp_path):
    spec = {
        "type": "binary",
        "source": {"annotation": {"genome": "g", "feature": "promoter", "length": 200}},
    }
    out = tmp_path / "out"
    meta = build_task("promoter", spec, out, inputs=inputs(genome))
    assert meta == json.loads((out / "meta.json").read_text())
    assert meta["label_names"] == ["background", "promoter"]
    assert meta["split_method"] == "region"
    stats = meta["source"]
    assert stats["positives"] == 4 * 18 and stats["negatives"] == stats["positives"]
    assert stats["skipped_n_rich"] == 1  # the promoter inside the N gap
    assert "1 positive window(s) with more N than max_n_fraction, skipped" in meta["warnings"]
    rows = splits(out)
    assert (rows["end"] - rows["start"] == 200).all() and (rows["sequence"].str.len() == 200).all()
    assert set("".join(rows["sequence"])) <= set("ACGTN")  # soft-masked chr2 upper-cased
    promoters = genome["features"][genome["features"]["type"] == "promoter"]
    positives, negatives = rows[rows["label"] == 1], rows[rows["label"] == 0]
    # positives are centred on a promoter and oriented like it; negatives avoid promoters
    centres = set(
        zip(
            promoters["seqid"],
            (promoters["start"] + promoters["end"]) // 2,
            promoters["strand"],
            strict=False,
        )
    )
    assert all((r.chrom, r.start + 100, r.strand) in centres for r in positives.itertuples())
    assert not overlaps_any(negatives, promoters).any()
    for row in rows.itertuples():
        expected = genome["sequences"][row.chrom][row.start : row.end]
        assert row.sequence == (reverse_complement(expected) if row.strand == "-" else expected)
    # split record: each split's examples lie in its recorded regions
    for split, regions in meta["split_detail"]["regions"].items():
        part = rows[rows["split"] == split]
        inside = np.zeros(len(part), dtype=bool)
        for chrom, start, end in regions:
            inside |= (
                (part["chrom"] == chrom) & (part["start"] >= start) & (part["end"] <= end)
            ).to_numpy()
        assert inside.all()
    assert (
        sum(meta["counts"].values())
        == len(rows)
        == 2 * stats["positives"] - meta["split_detail"]["dropped_at_boundaries"]
    )


def test_negatives_are_gc_matched(genome, tmp_path):
    base = {"genome": "g", "feature": "promoter", "length": 200}
    matched = build_task(
        "m",
        {"type": "binary", "source": {"annotation": base}},
        tmp_path / "m",
        inputs=inputs(genome),
    )
    plain = build_task(
        "p",
        {"type": "binary", "source": {"annotation": {**base, "gc_match": False}}},
        tmp_path / "p",
        inputs=inputs(genome),
    )
    pos = matched["source"]["gc_positive_mean"]
    assert pos > 0.6  # promoters sit in the GC-rich halves
    assert abs(matched["source"]["gc_negative_mean"] - pos) < 0.02
    assert plain["source"]["gc_negative_mean"] < pos - 0.08
    rows = splits(tmp_path / "m")
    negatives = rows[rows["label"] == 0]
    assert np.mean([gc_fraction(s) for s in negatives["sequence"]]) == pytest.approx(
        matched["source"]["gc_negative_mean"], abs=0.01
    )


def test_enhancer_classes_make_a_multiclass_task(genome, tmp_path):
    spec = {
        "type": "multiclass",
        "source": {
            "annotation": {
                "genome": "g",
                "feature": "enhancer",
                "length": 150,
                "label_attribute": "class",
            }
        },
    }
    meta = build_task("enh", spec, tmp_path / "out", inputs=inputs(genome))
    assert meta["label_names"] == ["background", "A", "B"] and meta["num_labels"] == 3
    total = {
        name: sum(meta["class_counts"][s][name] for s in meta["counts"])
        for name in meta["label_names"]
    }
    assert total["A"] + total["B"] + total["background"] == sum(meta["counts"].values())
    assert meta["source"]["negatives"] == 36  # as many as the largest class


def test_feature_types_make_a_multilabel_task(genome, tmp_path):
    spec = {
        "type": "multilabel",
        "source": {"annotation": {"genome": "g", "feature": "promoter|enhancer", "length": 2000}},
    }
    meta = build_task("ml", spec, tmp_path / "out", inputs=inputs(genome))
    assert meta["label_names"] == ["enhancer", "promoter"]
    rows = splits(tmp_path / "out")
    labels = {tuple(v) for v in rows["label"]}
    # the central half of 2 kb windows around a promoter reaches the enhancer 400 bp away
    assert (1, 1) in labels and (0, 0) in labels


def test_shuffled_negatives_keep_composition(genome, tmp_path):
    spec = {
        "type": "binary",
        "source": {
            "annotation": {
                "genome": "g",
                "feature": "promoter",
                "length": 100,
                "negatives": "shuffled",
            }
        },
    }
    meta = build_task("s", spec, tmp_path / "out", inputs=inputs(genome))
    assert meta["label_names"] == ["shuffled", "promoter"]
    rows = splits(tmp_path / "out")
    compositions = {"".join(sorted(s)) for s in rows[rows["label"] == 1]["sequence"]}
    shuffled = rows[rows["label"] == 0]["sequence"]
    assert all("".join(sorted(s)) in compositions for s in shuffled)


def test_five_prime_anchor_centres_windows_on_the_tss(genome, tmp_path):
    spec = {
        "type": "binary",
        "source": {
            "annotation": {
                "genome": "g",
                "feature": "promoter",
                "length": 60,
                "anchor": "five_prime",
            }
        },
    }
    build_task("tss", spec, tmp_path / "out", inputs=inputs(genome))
    rows = splits(tmp_path / "out")
    promoters = genome["features"][genome["features"]["type"] == "promoter"]
    five = set(
        zip(
            promoters["seqid"],
            np.where(promoters["strand"] == "-", promoters["end"], promoters["start"]),
            strict=False,
        )
    )
    assert all((r.chrom, r.start + 30) in five for r in rows[rows["label"] == 1].itertuples())


def test_unknown_feature_type_lists_those_present(genome, tmp_path):
    spec = {"type": "binary", "source": {"annotation": {"genome": "g", "feature": "exon"}}}
    with pytest.raises(
        TaskInputError, match=r"no features of type \['exon'\]; types present: .*promoter"
    ):
        build_task("x", spec, tmp_path / "out", inputs=inputs(genome))


def test_missing_label_attribute_is_an_error(genome, tmp_path):
    spec = {
        "type": "multiclass",
        "source": {
            "annotation": {"genome": "g", "feature": "promoter", "label_attribute": "class"}
        },
    }
    with pytest.raises(
        TaskInputError, match=r"no \['promoter'\] feature has the attribute 'class'"
    ):
        build_task("x", spec, tmp_path / "out", inputs=inputs(genome))


def test_synthetic_genome_promoter_task(tmp_path):
    """The demo's own source: dnatune.genome.simulate's genome and GFF."""
    from dnatune.genome.simulate import simulate_genome

    fasta, gff = tmp_path / "sim.fa", tmp_path / "sim.gff3"
    simulate_genome(fasta, gff, 120_000, 2, 5)
    pysam.tabix_compress(str(fasta), str(fasta) + ".gz", force=True)
    pysam.faidx(str(fasta) + ".gz")
    table = pd.read_csv(gff, sep="\t", comment="#", header=None, usecols=[0, 2, 3, 4, 6, 8])
    table.columns = ["seqid", "type", "start", "end", "strand", "attributes"]
    table = table.assign(start=table["start"] - 1, name="").sort_values(["seqid", "start"])
    table.to_parquet(tmp_path / "annotation.parquet", index=False)
    spec = {
        "type": "binary",
        "source": {"annotation": {"genome": "demo", "feature": "promoter", "length": 200}},
    }
    meta = build_task(
        "promoter",
        spec,
        tmp_path / "out",
        inputs={"genome": str(fasta) + ".gz", "annotation": str(tmp_path / "annotation.parquet")},
    )
    assert meta["split_method"] == "region"
    assert all(min(c.values()) > 0 for c in meta["class_counts"].values())
    assert abs(meta["source"]["gc_positive_mean"] - meta["source"]["gc_negative_mean"]) < 0.03


def test_annotation_ids_name_the_feature_and_the_window(genome, tmp_path):
    named = pd.read_parquet(genome["annotation"])
    named["name"] = named["attributes"].str.extract(r"ID=([^;]*)", expand=False)
    named.loc[named["name"] == "p3", "name"] = ""  # a feature without name or ID
    named.to_parquet(tmp_path / "named.parquet", index=False)
    files = {"genome": genome["fasta"], "annotation": str(tmp_path / "named.parquet")}
    for negatives in ("background", "shuffled"):
        windows = {"genome": "g", "feature": "promoter", "length": 100, "negatives": negatives}
        spec = {"type": "binary", "source": {"annotation": windows}}
        meta = build_task(negatives, spec, tmp_path / negatives, inputs=files)
        assert meta["ids"].startswith("annotation windows name@chrom:start-end")
        rows = splits(tmp_path / negatives)
        assert rows["id"].is_unique
        coordinates = (
            rows["chrom"] + ":" + rows["start"].astype(str) + "-" + rows["end"].astype(str)
        )
        positives, negative_ids = rows[rows["label"] == 1], rows[rows["label"] == 0]["id"]
        centres = set(
            zip(named["name"], named["seqid"], (named["start"] + named["end"]) // 2, strict=True)
        )
        for row, where in zip(positives.itertuples(), coordinates[rows["label"] == 1], strict=True):
            name, _, window = row.id.rpartition("@")
            assert window == where
            # the window is centred on the feature it names; p3's windows have no name
            assert (name, row.chrom, row.start + 50) in centres
        assert positives["id"].str.startswith("chr").sum() == 4  # p3 on every chromosome
        if negatives == "background":
            assert (negative_ids == "background@" + coordinates[rows["label"] == 0]).all()
        else:  # a shuffled copy names the positive it shuffles
            assert negative_ids.str.match(r"shuffled\d+:").all()
            sources = negative_ids.str.replace(r"^shuffled\d+:", "", regex=True)
            assert sources.isin(set(positives["id"])).all()
