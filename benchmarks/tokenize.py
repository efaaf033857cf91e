"""Speed of windowing + tokenization, end to end from genome.fa.gz to corpus shards.

For each kind (char, overlapping 6-mers) it times dnatune's windows + corpus stages on a
generated bgzip genome and, in the same run, the conventional baseline: the same windows
fetched with pysam and tokenized by `datasets.map(batched=True)` with the equivalent
Hugging Face tokenizer, then written to Parquet. The baseline runs on the first
`--baseline-mbp` of the genome (it is slow) and is scaled by the genome share it covers.
Each side runs `--repeat` times (default 3), each run in its own process so that its peak
RSS is its own; the medians are printed, and the per-run figures beside them (on a VM the
first run to write the corpus also pays for the first touch of page-cache memory).

One JSON object per line and kind: kind, mbp_per_s (genome Mbp per wall second),
mbp_per_s_per_core (genome Mbp per CPU second), baseline_mbp_per_s, speedup, peak_rss_mb,
plus the details behind them. Nothing is asserted.

    python3 benchmarks/tokenize.py                      # 100 Mbp genome
    python3 benchmarks/tokenize.py --size-mbp 20        # quick
    python3 benchmarks/tokenize.py --size-mbp 0 --long-chrom-mbp 250 --kinds char  # memory
"""

import sys
from pathlib import Path

# This file's name shadows the standard library's `tokenize` (imported by linecache, inspect):
# take the script's folder off the import path before anything else is imported.
_HERE = Path(__file__).resolve().parent
sys.path = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

KINDS = {
    "char": {"kind": "char"},
    "kmer6": {"kind": "kmer", "k": 6, "overlap": True},
}


def write_random_genome(path: Path, lengths: list[int], seed: int = 0) -> None:
    """A bgzip FASTA of random bases with soft-masked stretches and N gaps, plus .fai/.gzi.

    Written 10 Mbp at a time, so a 250 Mbp chromosome costs little memory.
    """
    import pysam
    from pysam.libcbgzf import BGZFile

    rng = np.random.default_rng(seed)
    letters = np.frombuffer(b"ACGTacgt", dtype=np.uint8)
    line = 60
    with BGZFile(str(path), "wb") as out:
        for number, length in enumerate(lengths, start=1):
            out.write(f">chr{number}\n".encode())
            for lo in range(0, length, 10_000_020):  # a multiple of the line length
                n = min(10_000_020, length - lo)
                codes = rng.integers(0, 4, size=n, dtype=np.uint8)
                masked = np.repeat(rng.random(math.ceil(n / 5000)) < 0.2, 5000)[:n]
                seq = letters[codes + 4 * masked]
                gaps = rng.integers(0, n, size=max(1, n // 2_000_000))
                for g in gaps:
                    seq[g : g + 10_000] = ord("N")
                full = n // line * line
                text = np.full((full // line, line + 1), ord("\n"), dtype=np.uint8)
                text[:, :line] = seq[:full].reshape(-1, line)
                out.write(text.tobytes())
                if full < n:
                    out.write(seq[full:].tobytes() + b"\n")
    pysam.faidx(str(path))


def _usage():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def run_ours(
    genome: str, tokenizer_dir: str, workdir: str, window: int, stride: int, shard_format: str
) -> dict:
    import pandas  # noqa: F401  (module imports are start-up, not throughput; pyarrow loads it)
    import pyarrow.compute  # noqa: F401
    import pyarrow.parquet  # noqa: F401
    import pysam  # noqa: F401
    import tqdm  # noqa: F401

    from dnatune.corpus.shards import build_corpus
    from dnatune.corpus.windows import make_windows

    windows = f"{workdir}/windows.parquet"
    cpu0, _ = _usage()
    t0 = time.perf_counter()
    make_windows(genome, windows, {"size": window, "stride": stride})
    cpu1, _ = _usage()
    t1 = time.perf_counter()
    build_corpus(genome, windows, tokenizer_dir, f"{workdir}/corpus", shard_format=shard_format)
    t2 = time.perf_counter()
    cpu2, rss = _usage()
    return {
        "wall_s": t2 - t0,
        "windows_s": t1 - t0,
        "cpu_s": cpu2 - cpu0,
        "windows_cpu_s": cpu1 - cpu0,
        "peak_rss_mb": rss,
    }


def run_baseline(genome: str, tokenizer_dir: str, workdir: str, kind: str, mbp: float) -> dict:
    import datasets
    import pandas as pd
    import pysam
    from transformers import AutoTokenizer, BertTokenizer

    from dnatune.corpus.tokenizer_kinds import dnabert_vocab

    datasets.disable_progress_bars()
    windows = pd.read_parquet(f"{workdir}/windows.parquet")
    fasta = pysam.FastaFile(genome)
    genome_bp = sum(fasta.lengths)
    take = max(1, min(len(windows), round(len(windows) * mbp * 1e6 / genome_bp)))
    windows = windows.iloc[:take]
    if kind == "char":
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)

        def tokenize(batch):
            return tokenizer(
                batch["sequence"], return_attention_mask=False, return_token_type_ids=False
            )
    else:
        vocab = {t: i for i, t in enumerate(dnabert_vocab(6))}
        tokenizer = BertTokenizer(vocab=vocab, do_lower_case=False)

        def tokenize(batch):
            kmers = [" ".join(s[i : i + 6] for i in range(len(s) - 5)) for s in batch["sequence"]]
            return tokenizer(kmers, return_attention_mask=False, return_token_type_ids=False)

    cpu0, _ = _usage()
    t0 = time.perf_counter()
    seqs = [
        fasta.fetch(c, s, e).upper()
        for c, s, e in zip(windows.chrom, windows.start, windows.end, strict=True)
    ]
    dataset = datasets.Dataset.from_dict({"sequence": seqs})
    dataset = dataset.map(tokenize, batched=True, remove_columns=["sequence"])
    dataset.to_parquet(f"{workdir}/baseline.parquet")
    wall = time.perf_counter() - t0
    cpu, rss = _usage()
    covered = (
        genome_bp * take / len(pd.read_parquet(f"{workdir}/windows.parquet", columns=["start"]))
    )
    return {"wall_s": wall, "cpu_s": cpu - cpu0, "genome_bp": covered, "peak_rss_mb": rss}


def _child(args: list[str]) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"benchmark child {args} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _record(kind: str, ours: list[dict], base: list[dict], lengths: list[int], args) -> dict:
    """Medians over the repeats; the per-run figures are kept under `runs_*`."""
    mbp = sum(lengths) / 1e6
    rate = [mbp / run["wall_s"] for run in ours]
    per_core = [mbp / run["cpu_s"] for run in ours]
    base_rate = [run["genome_bp"] / 1e6 / run["wall_s"] for run in base]
    median = statistics.median
    return {
        "kind": kind,
        "mbp_per_s": round(median(rate), 2),
        "mbp_per_s_per_core": round(median(per_core), 2),
        "baseline_mbp_per_s": round(median(base_rate), 3),
        "speedup": round(median(rate) / median(base_rate), 1),
        "peak_rss_mb": round(max(run["peak_rss_mb"] for run in ours)),
        "repeats": len(ours),
        "runs_mbp_per_s": [round(r, 2) for r in rate],
        "runs_mbp_per_s_per_core": [round(r, 2) for r in per_core],
        "runs_baseline_mbp_per_s": [round(r, 3) for r in base_rate],
        "genome_mbp": round(mbp, 1),
        "longest_chrom_mbp": round(max(lengths) / 1e6, 1),
        "window": args.window,
        "stride": args.stride,
        "shard_format": args.format,
        "wall_s": round(median(run["wall_s"] for run in ours), 2),
        "windows_s": round(median(run["windows_s"] for run in ours), 2),
        "cpu_s": round(median(run["cpu_s"] for run in ours), 2),
        "windows_cpu_s": round(median(run["windows_cpu_s"] for run in ours), 2),
        "baseline_mbp": round(base[0]["genome_bp"] / 1e6, 2),
        "baseline_mbp_per_s_per_core": round(
            median(run["genome_bp"] / 1e6 / run["cpu_s"] for run in base), 3
        ),
        "baseline_peak_rss_mb": round(max(run["peak_rss_mb"] for run in base)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mbp", type=float, default=100.0, help="genome size (default 100)")
    parser.add_argument("--chromosomes", type=int, default=8)
    parser.add_argument(
        "--long-chrom-mbp", type=float, default=0.0, help="add one chromosome this long"
    )
    parser.add_argument("--window", type=int, default=512)
    parser.add_argument("--stride", type=int, default=256)
    parser.add_argument("--baseline-mbp", type=float, default=2.0)
    parser.add_argument("--kinds", default="char,kmer6")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per side and kind; medians are printed"
    )
    parser.add_argument("--format", default="arrow", choices=["arrow", "parquet"], help="shards")
    parser.add_argument("--workdir", help="keep files here (default: a temporary folder)")
    parser.add_argument("--child", choices=["ours", "baseline"], help=argparse.SUPPRESS)
    parser.add_argument("--genome", help=argparse.SUPPRESS)
    parser.add_argument("--tokenizer", help=argparse.SUPPRESS)
    parser.add_argument("--kind", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child == "ours":
        ours = run_ours(
            args.genome, args.tokenizer, args.workdir, args.window, args.stride, args.format
        )
        print(json.dumps(ours))
        return
    if args.child == "baseline":
        base = run_baseline(args.genome, args.tokenizer, args.workdir, args.kind, args.baseline_mbp)
        print(json.dumps(base))
        return

    from dnatune.corpus.tokenizers import build_tokenizer

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="dnatune-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    per_chrom = int(args.size_mbp * 1e6 / args.chromosomes) if args.size_mbp > 0 else 0
    lengths = [per_chrom] * args.chromosomes if per_chrom else []
    if args.long_chrom_mbp > 0:
        lengths.append(int(args.long_chrom_mbp * 1e6))
    genome = workdir / "genome.fa.gz"
    t0 = time.perf_counter()
    write_random_genome(genome, lengths)
    genome_bp = sum(lengths)
    print(
        f"# genome {genome_bp / 1e6:.1f} Mbp ({len(lengths)} chromosomes, longest "
        f"{max(lengths) / 1e6:.1f} Mbp) written in {time.perf_counter() - t0:.1f} s",
        file=sys.stderr,
    )
    for kind in args.kinds.split(","):
        kind_dir = workdir / kind
        kind_dir.mkdir(exist_ok=True)
        build_tokenizer(KINDS[kind], kind_dir / "tokenizer")
        common = ["--genome", str(genome), "--tokenizer", str(kind_dir / "tokenizer")]
        common += ["--workdir", str(kind_dir), "--window", str(args.window)]
        common += ["--stride", str(args.stride), "--kind", kind, "--format", args.format]
        ours, base = [], []
        for repeat in range(args.repeat):
            if repeat:  # the previous run's corpus, removed outside the timed run
                shutil.rmtree(kind_dir / "corpus")
            ours.append(_child(["--child", "ours", *common]))
            base.append(
                _child(["--child", "baseline", *common, "--baseline-mbp", str(args.baseline_mbp)])
            )
        print(json.dumps(_record(kind, ours, base, lengths, args)), flush=True)
        if not args.workdir:
            shutil.rmtree(kind_dir)
    if not args.workdir:
        shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
