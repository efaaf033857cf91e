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
from dnatune.genome.kmer import reverse_complement_text
from dnatune.tasks.sources import TaskInputError

logger = logging.getLogger(__name__)

GC_BINS = 20


def fetch(fasta: pysam.FastaFile, chrom: str, start: int, end: int, strand: str) -> str:
    sequence = fasta.fetch(chrom, int(start), int(end)).upper()
    return reverse_complement_text(sequence) if strand == "-" else sequence


def gc_fraction(sequence: str) -> float:
    acgt = sum(sequence.count(base) for base in "ACGT")
    return (sequence.count("G") + sequence.count("C")) / acgt if acgt else 0.0


def n_fraction(sequence: str) -> float:
    return sequence.count("N") / len(sequence) if sequence else 1.0


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
        frame["id"] = _coordinates(frame)
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


def cut_sequences(
    frame: pd.DataFrame,
    genome_fa: str,
    genome: str | None = None,
    contigs: dict[str, str] | None = None,
    note: str = "",
) -> list[str]:
    """The sequence of every row (chrom, start, end, strand; 0-based, end exclusive).

    `contigs` maps a name used in the file to the genome's contig name (for suites whose
    files rename the contigs); errors name the row's `_where`, the genome and the fix.
    """
    named = f"genome '{genome}'" if genome else "genome"
    contigs = contigs or {}
    sequences = []
    with pysam.FastaFile(genome_fa) as fasta:
        lengths = dict(zip(fasta.references, fasta.lengths, strict=True))
        columns = ["chrom", "start", "end", "strand", "_where"]
        for chrom, start, end, strand, where in frame[columns].itertuples(index=False):
            contig = contigs.get(chrom, chrom)
            if contig not in lengths:
                shown = ", ".join(list(lengths)[:5])
                raise TaskInputError(
                    f"{where}: chromosome {chrom!r} is not in the {named} ({genome_fa}; "
                    f"contigs: {shown}{', ...' if len(lengths) > 5 else ''}). "
                    "Fix: use the genome's contig names (for example 'chr1' versus '1'), "
                    "or point the task at the genome these coordinates belong to"
                )
            if start < 0 or end > lengths[contig]:
                raise TaskInputError(
                    f"{where}: interval {chrom}:{start}-{end} lies outside the "
                    f"chromosome (length {lengths[contig]} in the {named}){note}. "
                    "Fix: check that the coordinates belong to this genome assembly"
                )
            sequences.append(fetch(fasta, contig, start, end, strand))
    return sequences


# ---------------------------------------------------------------- intervals


def _merge(chroms, starts, ends) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Merge intervals per chromosome into sorted disjoint (starts, ends)."""
    merged = {}
    frame = pd.DataFrame({"c": chroms, "s": starts, "e": ends}).sort_values(["c", "s"])
    for chrom, group in frame.groupby("c", sort=False):
        s, e = group["s"].to_numpy(), group["e"].to_numpy()
        running_end = np.maximum.accumulate(e)
        new = np.ones(len(s), dtype=bool)
        new[1:] = s[1:] >= running_end[:-1]
        merged[chrom] = (s[new], np.maximum.reduceat(e, np.flatnonzero(new)))
    return merged


def _overlaps(merged, chroms, starts, ends) -> np.ndarray:
    """For each query interval, whether it overlaps any merged interval."""
    chroms, starts, ends = np.asarray(chroms), np.asarray(starts), np.asarray(ends)
    hit = np.zeros(len(chroms), dtype=bool)
    for chrom in np.unique(chroms):
        if chrom not in merged:
            continue
        mask = chroms == chrom
        s, e = merged[chrom]
        i = np.searchsorted(s, ends[mask], side="left") - 1
        hit[mask] = (i >= 0) & (e[np.maximum(i, 0)] > starts[mask])
    return hit


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
    with pysam.FastaFile(genome_fa) as fasta:
        lengths = dict(zip(fasta.references, fasta.lengths, strict=True))
        unknown = ~features["seqid"].isin(list(lengths))
        if unknown.any():
            stats["features_on_unknown_contigs"] = int(unknown.sum())
            features = features[~unknown]
        features["class"] = _feature_classes(features, spec, task_type, types, stats)
        features = features.dropna(subset=["class"])
        classes = sorted(features["class"].unique())

        windows, label_intervals, exclusion = _positive_windows(features, length, spec, rng)
        inside = (windows["start"] >= 0) & (
            windows["end"] <= windows["chrom"].map(lengths).to_numpy()
        )
        stats["skipped_out_of_bounds"] = int((~inside).sum())
        windows = windows[inside].drop_duplicates(["chrom", "start", "end"])
        max_n = float(spec["max_n_fraction"])
        cap = int(spec["max_per_class"])
        positives, skipped = _take_windows(fasta, windows, rng, cap, max_n)
        stats["skipped_n_rich"] = skipped
        if positives.empty:
            raise TaskInputError(
                f"{annotation_path}: every window around {types} features lies off the "
                f"chromosome ends or is N-rich (> {max_n:.0%} N); nothing to learn from"
            )
        feature = positives["feature"].fillna("").astype(str)
        positives["id"] = (feature + "@").where(feature != "", "") + _coordinates(positives)

        per_class = positives["class"].value_counts()
        count = len(positives) if task_type == "binary" else int(per_class.max())
        negative_name = "shuffled" if negatives == "shuffled" else "background"
        if negatives == "background":
            negative_frame = _background_windows(
                fasta, lengths, exclusion, positives, count, length, max_n, spec, rng, stats
            )
        elif negatives == "shuffled":
            negative_frame = _shuffled_windows(positives, count, rng)
        else:
            negative_frame = positives.iloc[:0]
    negative_frame = negative_frame.assign(**{"class": negative_name})
    if negatives == "background":
        negative_frame["id"] = "background@" + _coordinates(negative_frame)
    frame = pd.concat([positives, negative_frame], ignore_index=True)

    if task_type == "binary":
        label_names = [negative_name, str(spec["feature"])]
        frame["label"] = np.where(frame["class"] == negative_name, label_names[0], label_names[1])
    elif task_type == "multiclass":
        label_names = ([negative_name] if len(negative_frame) else []) + classes
        frame["label"] = frame["class"]
    else:  # multilabel: every class whose label interval touches the window's central half
        label_names = classes
        quarter = length // 4
        hits = {
            c: _overlaps(
                _merge(
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


def _coordinates(frame: pd.DataFrame) -> pd.Series:
    """`chrom:start-end` of each row (0-based, end exclusive)."""
    return (
        frame["chrom"].astype(str)
        + ":"
        + frame["start"].astype(str)
        + "-"
        + frame["end"].astype(str)
    )


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
        exclusion = _merge(chroms, fstart, fend)
    else:
        exclusion = _merge(windows["chrom"], windows["start"], windows["end"])
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


def _tile_batches(rng, total: int, batch: int):
    """Random distinct tile indices, batch by batch."""
    if total <= 20 * batch:
        order = rng.permutation(total)
        for i in range(0, total, batch):
            yield order[i : i + batch]
        return
    seen: set[int] = set()
    for _ in range(20):
        draw = np.unique(rng.integers(0, total, size=batch))
        fresh = np.array([i for i in draw if i not in seen], dtype=np.int64)
        seen.update(fresh.tolist())
        yield fresh


def _background_windows(
    fasta, lengths, exclusion, positives, count, length, max_n, spec, rng, stats
):
    """Windows on a random tiling of the genome that avoid the features; GC-matched if asked."""
    chroms = list(lengths)
    offsets = rng.integers(0, length, size=len(chroms))
    tiles = np.array(
        [max((lengths[c] - o) // length, 0) for c, o in zip(chroms, offsets, strict=True)]
    )
    bounds = np.cumsum(tiles)
    want = 3 * count if spec["gc_match"] else count
    pool: list[tuple] = []
    for batch in _tile_batches(rng, int(bounds[-1]), max(2 * want, 1000)):
        which = np.searchsorted(bounds, batch, side="right")
        starts = offsets[which] + (batch - (bounds[which] - tiles[which])) * length
        names = np.asarray(chroms, dtype=object)[which]
        free = ~_overlaps(exclusion, names, starts, starts + length)
        strands = rng.choice(["+", "-"], size=len(batch))
        for chrom, start, strand in zip(names[free], starts[free], strands[free], strict=True):
            sequence = fetch(fasta, chrom, start, start + length, strand)
            if n_fraction(sequence) <= max_n:
                pool.append(
                    (
                        chrom,
                        int(start),
                        int(start) + length,
                        strand,
                        sequence,
                        gc_fraction(sequence),
                    )
                )
        if len(pool) >= want:
            break
    stats["background_pool"] = len(pool)
    if not pool:
        raise TaskInputError(
            f"no background window of {length} bp avoids every {spec['feature']} feature and "
            f"has at most {max_n:.0%} N; use a shorter source.annotation.length or "
            "negatives: shuffled"
        )
    if len(pool) < count:
        stats["negatives_short_by"] = count - len(pool)
    columns = ["chrom", "start", "end", "strand", "sequence", "gc"]
    candidates = pd.DataFrame(pool, columns=columns)
    if not spec["gc_match"]:
        return candidates.iloc[:count]
    return candidates.iloc[
        _gc_matched(candidates["gc"].to_numpy(), positives["gc"].to_numpy(), count, rng)
    ]


def _gc_matched(pool_gc: np.ndarray, target_gc: np.ndarray, count: int, rng) -> list[int]:
    """Indices into the pool whose GC histogram follows the targets' (nearest bin when short)."""
    targets = rng.choice(target_gc, size=count, replace=count > len(target_gc))
    pool_bin = np.minimum((pool_gc * GC_BINS).astype(int), GC_BINS - 1)
    by_bin = [list(rng.permutation(np.flatnonzero(pool_bin == b))) for b in range(GC_BINS)]
    chosen = []
    for gc in targets[: min(count, len(pool_gc))]:
        b = min(int(gc * GC_BINS), GC_BINS - 1)
        for distance in range(GC_BINS):
            hit = next(
                (c for c in (b - distance, b + distance) if 0 <= c < GC_BINS and by_bin[c]), None
            )
            if hit is not None:
                chosen.append(by_bin[hit].pop())
                break
    return chosen


def _shuffled_windows(positives: pd.DataFrame, count: int, rng) -> pd.DataFrame:
    """Negatives with the composition of positives: each a base-shuffled copy of one positive."""
    picks = positives.iloc[rng.choice(len(positives), size=count, replace=count > len(positives))]
    shuffled = [
        "".join(rng.permutation(np.array(list(sequence)))) for sequence in picks["sequence"]
    ]
    ids = [f"shuffled{i}:{id_}" for i, id_ in enumerate(picks["id"])]
    return picks.drop(columns=["class"]).assign(sequence=shuffled, id=ids).reset_index(drop=True)
