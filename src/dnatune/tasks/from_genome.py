"""Tasks derived from a genome: labelled BED intervals, and annotation features
against matched background windows.

Sequences are read with pysam from the bgzip genome (GENOME_FA), upper-cased,
and reverse-complemented for intervals on the minus strand. Every frame
returned here has the columns chrom, start, end, strand, sequence, label, id
and `_where` (the BED line, or the window's coordinates).

Ids (coordinates 0-based, end exclusive): a BED interval's name (column 4) when
every interval has its own, else `chrom:start-end` as in the file (names absent,
'.', repeated, or the label); an annotation window `name@chrom:start-end`, `name`
being its feature's name or ID (left out when the feature has none); a background
window `background@chrom:start-end`; a shuffled negative `shuffled<i>:<positive id>`.
"""

from __future__ import annotations

import logging
import re

import numpy as np
import pandas as pd
import pysam

from dnatune.genome.bed import bed_fields, bed_interval, feature_lines
from dnatune.tasks.genome_sequences import (
    coordinates,
    cut_sequences,
    fetch,
    gc_fraction,
    merge_intervals,
    n_fraction,
    overlaps,
)
from dnatune.tasks.negatives import negative_windows
from dnatune.tasks.sources import TaskInputError

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------- BED


def _bed_label_index(label) -> tuple[int, str]:
    if label == "name":
        return 3, "name (column 4)"
    if label == "score":
        return 4, "score (column 5)"
    if isinstance(label, int) or (isinstance(label, str) and label.isdigit()):
        column = int(label)
        if column < 4:
            raise TaskInputError(
                f"source.bed.label = {label}: columns 1-3 are chrom, start, end; "
                "choose 'name', 'score' or a column number of 4 or more"
            )
        return column - 1, f"column {column}"
    raise TaskInputError(
        f"source.bed.label = {label!r}: expected 'name', 'score' or a 1-based column number"
    )


def read_bed(path: str, label="name", length: int | None = None) -> pd.DataFrame:
    """Read labelled intervals; header, track and browser lines are skipped."""
    index, label_desc = _bed_label_index(label)
    rows, names = [], []
    for number, line in feature_lines(path, str(path), TaskInputError):
        where = f"{path} line {number}"
        fields = bed_fields(line, where, TaskInputError)
        if len(fields) <= index:
            raise TaskInputError(
                f"{where}: {len(fields)} column(s), but the label is the {label_desc}. "
                "Fix: add the label column, or set source.bed.label to the column holding it"
            )
        start, end = bed_interval(fields, where, TaskInputError, allow_empty=False)
        strand = fields[5] if len(fields) > 5 and fields[5] in ("+", "-") else "+"
        names.append(fields[3].strip() if len(fields) > 3 else "")
        rows.append((fields[0], start, end, strand, fields[index], where))
    if not rows:
        raise TaskInputError(f"{path}: no intervals found; expected tab-separated BED lines")
    frame = pd.DataFrame(rows, columns=["chrom", "start", "end", "strand", "label", "_where"])
    # names are ids only where they name each interval: not the label, none missing or repeated
    if index != 3 and "" not in names and "." not in names and len(set(names)) == len(names):
        frame["id"] = names
        frame.attrs["id_source"] = "BED name column"
    else:
        frame["id"] = coordinates(frame)
        frame.attrs["id_source"] = "BED coordinates chrom:start-end"
    if length:
        centre = (frame["start"] + frame["end"]) // 2
        frame["start"] = centre - length // 2
        frame["end"] = frame["start"] + length
    return frame


def bed_examples(path: str, genome_fa: str, spec: dict) -> pd.DataFrame:
    """Labelled intervals of a BED file with their sequences from the genome."""
    frame = read_bed(path, spec["label"], spec.get("length"))
    note = " after re-centring to source.bed.length" if spec.get("length") else ""
    frame["sequence"] = cut_sequences(frame, genome_fa, spec.get("genome"), note=note)
    logger.info("read %d intervals from %s", len(frame), path)
    return frame


# ---------------------------------------------------------------- annotation


def _attribute(attributes: pd.Series, key: str) -> pd.Series:
    """Value of `key` in raw GFF3 (key=value;) or GTF (key "value";) attributes, else NaN."""
    pattern = rf'(?:^|;)\s*{re.escape(key)}(?:=|\s+")([^;"]*)'
    return attributes.fillna("").str.extract(pattern, expand=False)


def annotation_examples(
    annotation_path: str, genome_fa: str, spec: dict, task_type: str, seed: int
) -> tuple[pd.DataFrame, list[str], dict]:
    """Positive windows from features of a type, plus matched negatives.

    Returns (frame, label_names, stats). Labels in the frame are class names
    (a tuple of names for multilabel); label_names fixes their index order.
    """
    rng = np.random.default_rng(seed)
    length = int(spec["length"])
    types = [t.strip() for t in str(spec["feature"]).split("|") if t.strip()]
    negatives = spec["negatives"]
    stats: dict = {}

    features = _read_features(annotation_path, types)
    with pysam.FastaFile(genome_fa) as fasta:
        lengths = dict(zip(fasta.references, fasta.lengths, strict=True))
        features = _classed_features(features, lengths, spec, task_type, types, stats)
        classes = sorted(features["class"].unique())

        windows, label_intervals, exclusion = _positive_windows(features, length, spec, rng)
        max_n = float(spec["max_n_fraction"])
        cap = int(spec["max_per_class"])
        positives = _positives(fasta, windows, lengths, rng, cap, max_n, stats)
        if positives.empty:
            raise TaskInputError(
                f"{annotation_path}: every window around {types} features lies off the "
                f"chromosome ends or is N-rich (> {max_n:.0%} N); nothing to learn from"
            )
        per_class = positives["class"].value_counts()
        count = len(positives) if task_type == "binary" else int(per_class.max())
        negative_name, negative_frame = negative_windows(
            negatives, fasta, lengths, exclusion, positives, count, length, max_n, spec, rng, stats
        )
    frame = pd.concat([positives, negative_frame], ignore_index=True)
    negative = (negative_name, len(negative_frame))
    label_names = _label(frame, spec, task_type, classes, negative, label_intervals, length)
    stats.update(
        positives=len(positives),
        negatives=len(negative_frame),
        gc_positive_mean=round(float(positives["gc"].mean()), 4),
        gc_negative_mean=round(float(negative_frame["gc"].mean()), 4)
        if len(negative_frame)
        else None,
    )
    logger.info(
        "annotation %s %s: %d positive and %d %s windows of %d bp (skipped %d N-rich)",
        annotation_path,
        types,
        len(positives),
        len(negative_frame),
        negative_name,
        length,
        stats["skipped_n_rich"],
    )
    return frame.drop(columns=["class", "gc", "feature"]), label_names, stats


def _read_features(annotation_path: str, types: list[str]) -> pd.DataFrame:
    """The annotation's features of the task's types (an error lists the types present)."""
    annotation = pd.read_parquet(
        annotation_path,
        columns=["seqid", "start", "end", "strand", "type", "name", "attributes"],
    )
    features = annotation[annotation["type"].isin(types)].copy()
    if features.empty:
        present = annotation["type"].value_counts().index[:15].tolist()
        raise TaskInputError(
            f"{annotation_path}: no features of type {types}; types present: {present}. "
            "Fix: set the task's source.annotation.feature to one of them"
        )
    return features


def _classed_features(features, lengths, spec, task_type, types, stats) -> pd.DataFrame:
    """Features on the genome's contigs that have a class, with the class in a column."""
    unknown = ~features["seqid"].isin(list(lengths))
    if unknown.any():
        stats["features_on_unknown_contigs"] = int(unknown.sum())
        features = features[~unknown]
    features["class"] = _feature_classes(features, spec, task_type, types, stats)
    return features.dropna(subset=["class"])


def _positives(fasta, windows, lengths, rng, cap, max_n, stats) -> pd.DataFrame:
    """The candidate windows inside the chromosomes, up to `cap` per class, with their ids."""
    inside = (windows["start"] >= 0) & (windows["end"] <= windows["chrom"].map(lengths).to_numpy())
    stats["skipped_out_of_bounds"] = int((~inside).sum())
    windows = windows[inside].drop_duplicates(["chrom", "start", "end"])
    positives, skipped = _take_windows(fasta, windows, rng, cap, max_n)
    stats["skipped_n_rich"] = skipped
    feature = positives["feature"].fillna("").astype(str)
    positives["id"] = (feature + "@").where(feature != "", "") + coordinates(positives)
    return positives


def _label(frame, spec, task_type, classes, negative, label_intervals, length) -> list:
    """Set the frame's label and _where columns; return the label names in index order.

    `negative`: the negatives' class name and their count.
    """
    negative_name, n_negatives = negative
    if task_type == "binary":
        label_names = [negative_name, str(spec["feature"])]
        frame["label"] = np.where(frame["class"] == negative_name, label_names[0], label_names[1])
    elif task_type == "multiclass":
        label_names = ([negative_name] if n_negatives else []) + classes
        frame["label"] = frame["class"]
    else:  # multilabel: every class whose label interval touches the window's central half
        label_names = classes
        quarter = length // 4
        hits = {
            c: overlaps(
                merge_intervals(
                    *label_intervals[label_intervals["class"] == c][["chrom", "start", "end"]]
                    .to_numpy()
                    .T
                ),
                frame["chrom"],
                frame["start"] + quarter,
                frame["end"] - quarter,
            )
            for c in classes
        }
        frame["label"] = [
            tuple(c for c in classes if hits[c][i] or frame["class"].iat[i] == c)
            for i in range(len(frame))
        ]
    frame["_where"] = [
        f"window {c}:{s}-{e}({d})"
        for c, s, e, d in zip(
            frame["chrom"], frame["start"], frame["end"], frame["strand"], strict=True
        )
    ]
    return label_names


def _feature_classes(features, spec, task_type, types, stats) -> pd.Series:
    if task_type == "binary":
        return pd.Series(str(spec["feature"]), index=features.index)
    key = spec.get("label_attribute")
    if not key:
        if len(types) < 2:
            raise TaskInputError(
                f"a {task_type} annotation task needs several classes: set "
                "source.annotation.label_attribute (for example 'class') or join several "
                "feature types with '|'"
            )
        return features["type"]
    values = _attribute(features["attributes"], key)
    missing = values.isna() | (values == "")
    if missing.all():
        raise TaskInputError(
            f"no {types} feature has the attribute {key!r}; fix source.annotation.label_attribute"
        )
    if missing.any():
        stats["features_without_label_attribute"] = int(missing.sum())
    return values.where(~missing)


def _positive_windows(features, length, spec, rng):
    """Candidate windows, the intervals that define labels, and the negatives' exclusion set."""
    fstart = features["start"].to_numpy(dtype=np.int64)
    fend = features["end"].to_numpy(dtype=np.int64)
    fstrand = features["strand"].to_numpy()
    anchor = spec["anchor"]
    if anchor == "centre":
        span = fend - fstart
        tiles = np.maximum(span // length, 1)  # long features are tiled, short ones centred
        first = np.where(
            span >= length,
            fstart + (span - tiles * length) // 2,
            (fstart + fend) // 2 - length // 2,
        )
        index = np.repeat(np.arange(len(features)), tiles)
        within = np.arange(len(index)) - np.repeat(np.cumsum(tiles) - tiles, tiles)
        wstart = first[index] + within * length
        label_start, label_end = fstart, fend
    else:
        five = anchor == "five_prime"
        point = np.where((fstrand == "-") == five, fend, fstart)
        index = np.arange(len(features))
        wstart = point - length // 2
        label_start, label_end = point - 1 * (point == fend), point + 1 * (point != fend)
    strand = fstrand[index].astype(object)
    unstranded = ~np.isin(strand, ["+", "-"])
    strand[unstranded] = rng.choice(["+", "-"], size=int(unstranded.sum()))
    chroms = features["seqid"].to_numpy()
    windows = pd.DataFrame(
        {
            "chrom": chroms[index],
            "start": wstart,
            "end": wstart + length,
            "strand": strand,
            "class": features["class"].to_numpy()[index],
            "feature": features["name"].to_numpy()[index],
        }
    )
    label_intervals = pd.DataFrame(
        {
            "chrom": chroms,
            "start": label_start,
            "end": label_end,
            "class": features["class"].to_numpy(),
        }
    )
    if anchor == "centre":
        exclusion = merge_intervals(chroms, fstart, fend)
    else:
        exclusion = merge_intervals(windows["chrom"], windows["start"], windows["end"])
    return windows, label_intervals, exclusion


def _take_windows(fasta, windows, rng, cap, max_n) -> tuple[pd.DataFrame, int]:
    """Up to `cap` random windows per class whose N fraction is at most `max_n`."""
    kept, skipped = [], 0
    for _, group in windows.groupby("class", sort=True):
        group = group.iloc[rng.permutation(len(group))]
        rows = []
        for row in group.itertuples(index=False):
            sequence = fetch(fasta, row.chrom, row.start, row.end, row.strand)
            if n_fraction(sequence) > max_n:
                skipped += 1
                continue
            rows.append((*row, sequence, gc_fraction(sequence)))
            if len(rows) == cap:
                break
        kept.extend(rows)
    columns = [*windows.columns, "sequence", "gc"]
    return pd.DataFrame(kept, columns=columns), skipped
