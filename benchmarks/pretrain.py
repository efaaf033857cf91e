"""Pre-training throughput: dnatune's path against a plain Hugging Face Trainer.

On the same model, corpus and hyper-parameters, in one run, each side in fresh child
processes (alternating, `--repeats` times; medians printed):
  dnatune     dnatune.train.pretrain.main: its seeded masking, packing where exact (Llama, GPT-2;
              pretrain.packing auto), per-batch padding elsewhere
  hf_dynamic  plain Trainer + DataCollatorForLanguageModeling (padding to the batch's
              longest window), as run_mlm.py / run_clm.py without grouping texts
for each architecture (`--architectures`: bert, MLM; llama, CLM) and input set
(`variable`: windows of 70-1000 bp, as a BPE corpus or GUE-like sequences give;
`fixed`: 200 bp windows). Figures from dnatune.train.throughput.ThroughputCallback on both
sides. One JSON line per architecture and input set; `eval_loss_equal_vs_hf_dynamic`
checks the final val loss within 0.05 nats (the MLM sides draw different masks).

    python3 benchmarks/pretrain.py [--max-steps 30] [--repeats 3] [--architectures bert llama]
"""

from __future__ import annotations

import sys
from pathlib import Path

# benchmarks/tokenize.py would shadow the standard library's tokenize (pandas imports it)
_HERE = Path(__file__).resolve().parent
sys.path = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402

import numpy as np  # noqa: E402

_spec = importlib.util.spec_from_file_location("training_harness", _HERE / "training_harness.py")
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)

SIDES = ("hf_dynamic", "dnatune")
METRIC, TOLERANCE = "eval_loss", 0.05
OBJECTIVES = {"bert": "mlm", "llama": "clm"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--architectures", nargs="+", default=list(OBJECTIVES))
    parser.add_argument("--architecture", help=argparse.SUPPRESS)  # a child's own
    parser.add_argument("--n-train", type=int, default=512, help="train windows")
    parser.add_argument("--n-val", type=int, default=64)
    parser.add_argument("--max-steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    harness.add_model_arguments(parser)
    args = parser.parse_args()
    if args.side:
        print(json.dumps(run_side(args)))
        return
    with tempfile.TemporaryDirectory(prefix="dnatune-bench-") as tmp:
        for architecture in args.architectures:
            model_dir = harness.build_model(Path(tmp), args, architecture)
            for inputs in args.inputs:
                lengths = make_corpus(Path(tmp) / inputs, model_dir, inputs, args)
                sys.argv += ["--architecture", architecture]
                runs = harness.run_sides(list(SIDES), inputs, args.repeats, tmp)
                del sys.argv[-2:]
                line = {"benchmark": "pretrain", "architecture": architecture, "inputs": inputs}
                line.update(harness.comparison(runs, "dnatune", METRIC, TOLERANCE))
                line.update(
                    packing=runs["dnatune"][0]["packing"],
                    max_steps=args.max_steps,
                    batch_size=args.batch_size,
                    mean_bases=harness.mean_tokens(lengths),
                    model=f"{architecture} {args.layers}x{args.hidden}",
                    threads=runs["dnatune"][0]["threads"],
                )
                print(json.dumps(line), flush=True)


def make_corpus(directory: Path, model_dir: Path, inputs: str, args) -> list[int]:
    """A CORPUS_DIR as the corpus stage writes it (Arrow shards, stats.json); its lengths."""
    import pyarrow as pa

    from dnatune.corpus.tokenizers import DnaTokenizer

    if directory.exists():  # the corpus of another architecture: same tokenizer
        return json.loads((directory / "lengths.json").read_text())
    tokenizer = DnaTokenizer.from_pretrained(model_dir)
    rng = np.random.default_rng(args.seed)
    schema = pa.schema([("input_ids", pa.list_(pa.uint16()))])
    stats, lengths = {}, []
    for split, n in (("train", args.n_train), ("val", args.n_val), ("test", args.n_val)):
        seqs = harness.gc_sequences(rng, np.zeros(n), harness.base_range(inputs, args))
        lengths += [len(s) for s in seqs]
        ids = [np.asarray(row, dtype=np.uint16) for row in tokenizer.encode_ids(seqs)]
        (directory / split).mkdir(parents=True)
        table = pa.table({"input_ids": pa.array(ids, type=schema.field(0).type)}, schema=schema)
        with pa.ipc.new_stream(directory / split / "shard-00000.arrow", schema) as stream:
            stream.write_table(table)
        stats[split] = {"windows": n, "tokens": int(sum(map(len, ids))), "bases": sum(lengths)}
    (directory / "stats.json").write_text(json.dumps(stats))
    (directory / "lengths.json").write_text(json.dumps(lengths))
    return lengths


def run_side(args) -> dict:
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    workdir = Path(args.workdir)
    model_dir, corpus = workdir / args.architecture, workdir / args.input
    out = workdir / f"{args.architecture}-{args.input}-{args.side}"
    if args.side == "dnatune":
        summary = dnatune_side(model_dir, corpus, out, args)
        record, loss, packing = summary["throughput"], summary["eval_loss"], summary["packing"]
    else:
        (record, loss), packing = plain_trainer_side(model_dir, corpus, out, args), False
    return {
        **harness.side_figures(record),
        METRIC: loss,
        "packing": packing,
        "threads": torch.get_num_threads(),
    }


def dnatune_side(model_dir: Path, corpus: Path, out: Path, args) -> dict:
    from dnatune.train.pretrain import PretrainArguments, main

    return main(
        PretrainArguments.defaults(
            model_dir=str(model_dir),
            corpus_dirs=[str(corpus)],
            output_dir=str(out),
            checkpoint_dir=str(out) + ".checkpoints",
            max_steps=args.max_steps,
            batch_size=args.batch_size,
            lr=args.lr,
            save_steps=args.max_steps,  # one checkpoint and val loss, at the end
            logging_steps=args.max_steps,
            precision=args.precision,
            seed=args.seed,
        )
    )


def plain_trainer_side(model_dir: Path, corpus: Path, out: Path, args) -> tuple[dict, float]:
    """run_mlm.py / run_clm.py's set-up on the same windows, without grouping texts."""
    from transformers import (
        AutoModelForCausalLM,
        AutoModelForMaskedLM,
        DataCollatorForLanguageModeling,
        Trainer,
        TrainingArguments,
    )

    from dnatune.corpus.shards import load_corpus
    from dnatune.corpus.tokenizers import DnaTokenizer
    from dnatune.train.pretrain import precision_flags, run_precision
    from dnatune.train.throughput import ThroughputCallback

    objective = OBJECTIVES[args.architecture]
    auto = AutoModelForMaskedLM if objective == "mlm" else AutoModelForCausalLM
    model = auto.from_pretrained(model_dir)
    tokenizer = DnaTokenizer.from_pretrained(model_dir)
    training_args = TrainingArguments(
        output_dir=str(out),
        max_steps=args.max_steps,
        per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=args.batch_size,
        learning_rate=args.lr,
        weight_decay=0.01,
        warmup_steps=round(0.05 * args.max_steps),
        save_strategy="no",
        seed=args.seed,
        report_to="none",
        disable_tqdm=True,
        **precision_flags(args.precision),
    )
    meter = ThroughputCallback(model, run_precision(training_args), stage="pretrain")
    trainer = Trainer(
        model=model,
        args=training_args,
        train_dataset=load_corpus([str(corpus)], "train"),
        eval_dataset=load_corpus([str(corpus)], "val"),
        data_collator=DataCollatorForLanguageModeling(tokenizer.hf, mlm=objective == "mlm"),
        callbacks=[meter],
    )
    trainer.train()
    return meter.record, trainer.evaluate()["eval_loss"]


if __name__ == "__main__":
    main()
