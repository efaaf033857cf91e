"""Speed of genome-wide prediction tracks: windows/s and Mbp/min, with peak memory.

A classifier the size of the demo's (ESM, 2 layers, hidden 128, non-overlapping 3-mers,
200 bp windows; an untrained head: speed does not depend on the weights) scores a random
bgzip genome with 50% window overlap, both strands averaged, fp32:

- **dnatune**: `dnatune.apply.tracks.score_chunk` per 1 Mbp chunk (windows fetched as one
  span per batch, batched by token count, both strands in one batch, each base's score
  taken from one window: the exact centre-keeping stitch), then `merge_tracks` to bigWig
  and bedGraph;
- **baseline**, in the same run: one window at a time (fetched with pysam, tokenised,
  scored forward and reverse, batch of one), and per-base scores by averaging every
  window over the bases it covers (a float array the size of each chromosome, no reuse of
  the stitch), written as bedGraph. It runs on the first `--baseline-mbp` and is scaled.

Each side runs in its own process so that its peak RSS is its own. One JSON line per side
plus the speedup; nothing is asserted.

    python3 benchmarks/tracks.py                     # 4 Mbp genome, 0.2 Mbp baseline
    python3 benchmarks/tracks.py --size-mbp 0.2 --baseline-mbp 0.02   # smoke
    python3 benchmarks/tracks.py --device cuda --dtype bf16           # on a GPU
"""

from __future__ import annotations

import sys
from pathlib import Path

# benchmarks/tokenize.py would shadow the standard library's tokenize (pandas imports it)
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

MODEL = {
    "architecture": "esm",
    "tokenizer": {"kind": "kmer", "k": 3, "overlap": False},
    "layers": 2,
    "hidden": 128,
    "heads": 4,
    "intermediate": 256,
    "max_length": 256,
}
WINDOW, STRIDE = 200, 100
CHUNK_BP = 1_000_000


def write_genome(path: Path, size_bp: int, chromosomes: int, seed: int = 0) -> None:
    import pysam

    rng = np.random.default_rng(seed)
    plain = path.with_suffix("")
    with open(plain, "w") as out:
        for number in range(chromosomes):
            seq = rng.choice(np.frombuffer(b"ACGT", np.uint8), size_bp // chromosomes)
            out.write(f">chr{number + 1}\n")
            for lo in range(0, len(seq), 60):
                out.write(seq[lo : lo + 60].tobytes().decode() + "\n")
    pysam.tabix_compress(str(plain), str(path), force=True)
    pysam.faidx(str(path))


def build_model(workdir: Path) -> Path:
    from dnatune.corpus.tokenizers import build_tokenizer
    from dnatune.train.models import init_scratch_model

    build_tokenizer(MODEL["tokenizer"], workdir / "tokenizer")
    init_scratch_model(MODEL, workdir / "tokenizer", workdir / "model", seed=0)
    return workdir / "model"


def load(model_dir: Path, device: str, dtype: str):
    import torch

    from dnatune.train.models import load_sequence_classifier

    model, tokenizer = load_sequence_classifier(
        model_dir, 2, "single_label_classification", False, 0, pooling="mean"
    )
    model = model.eval().to(device)
    if dtype == "bf16":
        model = model.to(torch.bfloat16)
    return model, tokenizer


def run_dnatune(workdir: Path, args) -> dict:
    from dnatune.apply.regions import chunk_plan, requested_regions
    from dnatune.apply.scoring import ModelScorer, strand_averaged
    from dnatune.apply.tracks import merge_tracks, score_chunk

    genome = str(workdir / "genome.fa.gz")
    model, tokenizer = load(workdir / "model", args.device, args.dtype)
    scorer = strand_averaged(ModelScorer(model, tokenizer, "binary", args.batch, args.device))
    plan = chunk_plan(requested_regions("all", genome + ".fai"), CHUNK_BP)
    started = time.perf_counter(), _cpu()
    files, windows = [], 0
    for chunk in plan.to_dict("records"):
        files.append(workdir / "chunks" / f"{chunk['chunk']}.parquet")
        windows += len(score_chunk(genome, chunk, WINDOW, STRIDE, scorer, ["p"], files[-1]))
    merge_tracks(files, genome + ".fai", ["p"], workdir / "tracks", genome, "bench")
    return _result("dnatune", started, windows, int((plan["end"] - plan["start"]).sum()))


def run_baseline(workdir: Path, args) -> dict:
    import pysam
    import torch

    from dnatune.apply.tiling import window_starts
    from dnatune.genome.kmer import reverse_complement_text

    model, tokenizer = load(workdir / "model", args.device, args.dtype)
    fasta = pysam.FastaFile(str(workdir / "genome.fa.gz"))
    budget = int(args.baseline_mbp * 1e6)
    started, windows, bases = (time.perf_counter(), _cpu()), 0, 0
    with open(workdir / "baseline.bedGraph", "w") as out, torch.inference_mode():
        for chrom, length in zip(fasta.references, fasta.lengths, strict=True):
            length = min(length, budget - bases)
            if length <= 0:
                break
            total, count = np.zeros(length), np.zeros(length)
            for start in window_starts(length, WINDOW, STRIDE):
                seq = fasta.fetch(chrom, int(start), int(start) + WINDOW).upper()
                score = 0.0
                for strand in (seq, reverse_complement_text(seq)):
                    ids = torch.tensor(tokenizer([strand])["input_ids"], device=args.device)
                    logits = model(input_ids=ids).logits.float()
                    score += torch.softmax(logits, -1)[0, 1].item() / 2
                total[start : start + WINDOW] += score
                count[start : start + WINDOW] += 1
                windows += 1
            values = total / count
            out.writelines(f"{chrom}\t{i}\t{i + 1}\t{v:.6g}\n" for i, v in enumerate(values))
            bases += length
    return _result("baseline", started, windows, bases)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _result(side: str, started: tuple[float, float], windows: int, bases: int) -> dict:
    """Rates per wall second and per CPU second (what a loaded machine distorts least), both
    counted from `started` (after the model is loaded); peak RSS of the whole process."""
    seconds = time.perf_counter() - started[0]
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = _cpu() - started[1]
    return {
        "side": side,
        "windows": windows,
        "mbp": bases / 1e6,
        "seconds": round(seconds, 2),
        "windows_per_s": round(windows / seconds, 1),
        "mbp_per_min": round(bases / 1e6 / seconds * 60, 3),
        "cpu_s": round(cpu, 1),
        "windows_per_cpu_s": round(windows / cpu, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mbp", type=float, default=4.0)
    parser.add_argument("--chromosomes", type=int, default=4)
    parser.add_argument("--baseline-mbp", type=float, default=0.2)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32")
    parser.add_argument("--side", choices=["dnatune", "baseline"], help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:  # a child: one side, in its own process
        import torch

        torch.set_num_threads(args.threads)
        run = run_dnatune if args.side == "dnatune" else run_baseline
        print(json.dumps(run(Path(args.workdir), args)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        write_genome(workdir / "genome.fa.gz", int(args.size_mbp * 1e6), args.chromosomes)
        build_model(workdir)
        results = {}
        for side in ("dnatune", "baseline"):
            child = [sys.executable, __file__, *sys.argv[1:], "--side", side, "--workdir", tmp]
            line = subprocess.run(child, check=True, capture_output=True, text=True).stdout
            results[side] = json.loads(line.strip().splitlines()[-1])
            print(
                json.dumps(
                    {
                        **results[side],
                        "device": args.device,
                        "dtype": args.dtype,
                        "threads": args.threads,
                        "batch": args.batch,
                    }
                )
            )
        speedup = results["dnatune"]["mbp_per_min"] / results["baseline"]["mbp_per_min"]
        print(json.dumps({"speedup_mbp_per_min": round(speedup, 2)}))


if __name__ == "__main__":
    main()
