"""Prediction tracks: a chunk's stitched window scores, then the chunks merged into one bigWig
and one bedGraph per score column, with an IGV session that opens them over the genome.

Memory stays flat in the genome size: a chunk job holds one batch of windows at a time
(its table holds one row per stride), and the merge streams chunk by chunk into the files.
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import os
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from dnatune.apply.cells import ApplyError
from dnatune.apply.scoring import Scorer
from dnatune.apply.tiling import region_tiles
from dnatune.atomic import atomic_path
from dnatune.genome.indexed_fasta import IndexedFasta, read_fai

logger = logging.getLogger(__name__)

SESSION = "igv_session.xml"


def score_region(
    fasta: IndexedFasta,
    chrom: str,
    start: int,
    end: int,
    window: int,
    stride: int,
    scorer: Scorer,
    names: Sequence[str],
    batch_windows: int = 256,
) -> pd.DataFrame:
    """Stitched scores of [start, end) of `chrom`: one row per kept window part."""
    length = fasta.contigs[chrom].length
    if end > length:
        raise ApplyError(f"region {chrom}:{start}-{end} ends past {chrom}'s end ({length} bp)")
    tiles = region_tiles(length, window, stride, start, end)
    scores = np.empty((len(tiles), len(names)), dtype=np.float32)
    for lo in range(0, len(tiles), batch_windows):
        starts = tiles.start[lo : lo + batch_windows]
        span = fasta.fetch(chrom, int(starts[0]), int(starts[-1]) + tiles.width).tobytes()
        offsets = starts - starts[0]
        # upper case, as the task sequences the model was trained on are
        sequences = [span[o : o + tiles.width].decode("ascii").upper() for o in offsets]
        batch = scorer(sequences)
        if batch.shape[1] != len(names):
            raise ApplyError(f"the model gives {batch.shape[1]} scores, expected {len(names)}")
        scores[lo : lo + len(starts)] = batch
    frame = pd.DataFrame({"chrom": chrom, "start": tiles.keep_start, "end": tiles.keep_end})
    for i, name in enumerate(names):
        frame[name] = scores[:, i]
    return frame


def score_chunk(
    genome: str | Path,
    chunk: dict,
    window: int,
    stride: int,
    scorer: Scorer,
    names: Sequence[str],
    out_path: str | Path,
    batch_windows: int = 256,
) -> pd.DataFrame:
    """One plan chunk's stitched scores -> Parquet (atomically)."""
    started = time.perf_counter()
    with IndexedFasta(genome) as fasta:
        frame = score_region(
            fasta,
            chunk["chrom"],
            int(chunk["start"]),
            int(chunk["end"]),
            window,
            stride,
            scorer,
            names,
            batch_windows,
        )
    with atomic_path(out_path) as tmp:
        frame.to_parquet(tmp, index=False)
    seconds = time.perf_counter() - started
    bases = int(chunk["end"]) - int(chunk["start"])
    logger.info(
        "%s:%s-%s: %d windows of %d bp (stride %d) in %.1f s (%.3f Mbp/min)",
        chunk["chrom"],
        chunk["start"],
        chunk["end"],
        len(frame),
        window,
        stride,
        seconds,
        bases / 1e6 / max(seconds, 1e-9) * 60,
    )
    return frame


def track_file_name(name: str) -> str:
    """A score column's name as a file name (class names may hold any character)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "track"


def merge_tracks(
    chunk_files: Sequence[str | Path],
    fai: str | Path,
    names: Sequence[str],
    out_dir: str | Path,
    genome_fasta: str | Path,
    title: str,
) -> list[str]:
    """Chunks (in plan order) -> {track}.bw and {track}.bedGraph.gz per score column, and
    igv_session.xml; the folder appears whole or not at all. Returns the track file stems."""
    import pyBigWig

    header = [(name, contig.length) for name, contig in read_fai(fai).items()]
    stems = [track_file_name(name) for name in names]
    if len(set(stems)) < len(stems):
        raise ApplyError(f"track names {list(names)} collide as file names {stems}")
    with atomic_path(out_dir, directory=True) as tmp, contextlib.ExitStack() as files:
        bigwigs = [files.enter_context(pyBigWig.open(str(tmp / f"{s}.bw"), "w")) for s in stems]
        bedgraphs = [files.enter_context(gzip.open(tmp / f"{s}.bedGraph.gz", "wt")) for s in stems]
        for bw in bigwigs:
            bw.addHeader(header, maxZooms=10)
        for path in chunk_files:
            _add_chunk(pd.read_parquet(path), names, bigwigs, bedgraphs)
        files.close()  # the files are complete before the folder is moved into place
        write_igv_session(tmp / SESSION, stems, Path(out_dir), genome_fasta, title)
    logger.info("wrote %d track(s) %s to %s", len(stems), ", ".join(stems), out_dir)
    return stems


def _add_chunk(frame: pd.DataFrame, names, bigwigs, bedgraphs) -> None:
    if frame.empty:
        return
    chroms = frame["chrom"].astype(str).tolist()
    starts, ends = frame["start"].to_numpy(np.int64), frame["end"].to_numpy(np.int64)
    for name, bw, bedgraph in zip(names, bigwigs, bedgraphs, strict=True):
        values = frame[name].to_numpy(np.float64)
        bw.addEntries(chroms, starts.tolist(), ends=ends.tolist(), values=values.tolist())
        bedgraph.writelines(
            f"{c}\t{s}\t{e}\t{v:.6g}\n"
            for c, s, e, v in zip(chroms, starts, ends, values, strict=True)
        )


def write_igv_session(
    path: Path, stems: Sequence[str], final_dir: Path, genome_fasta: str | Path, title: str
) -> None:
    """An IGV session (File > Open Session) with the genome and the bigWig tracks.

    Paths are relative to the session's final folder, so the results folder can be moved.
    """
    genome = os.path.relpath(Path(genome_fasta).resolve(), final_dir.resolve())
    session = ET.Element("Session", genome=genome, hasGeneTrack="false", version="8")
    resources = ET.SubElement(session, "Resources")
    for stem in stems:
        ET.SubElement(resources, "Resource", path=f"{stem}.bw", name=f"{title} {stem}")
    panel = ET.SubElement(session, "Panel", name="DataPanel")
    for stem in stems:
        ET.SubElement(panel, "Track", id=f"{stem}.bw", name=f"{title} {stem}", autoScale="true")
    ET.ElementTree(session).write(path, encoding="UTF-8", xml_declaration=True)
