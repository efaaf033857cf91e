"""Fine-tuning throughput: dnatune's path against plain Hugging Face Trainer set-ups.

On the same model, data and hyper-parameters, in one run, each side in fresh child
processes (alternating, `--repeats` times; medians printed):
  dnatune     dnatune.train.finetune.finetune: batches padded to their longest sequence,
              length-grouped training batches, val/test sorted by length, SDPA attention
  hf_dynamic  plain Trainer + DataCollatorWithPadding (padding to the batch's longest),
              random batches: run_glue.py without --pad_to_max_length
  hf_max      the same, every sequence padded to the model's max length (pad_to_max_length)
for each input set: `variable` (GUE-like, 70-1000 bp uniform) and `fixed` (200 bp).
Every side's figures come from the same dnatune.train.throughput.ThroughputCallback. One JSON
line per input set; `test_auroc_equal_vs_*` checks test AUROC within 0.02.

    python3 benchmarks/finetune.py [--n-train 256] [--epochs 2] [--repeats 3] [--threads N]
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

SIDES = ("hf_max", "hf_dynamic", "dnatune")
METRIC, TOLERANCE = "test_auroc", 0.02


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=256)
    parser.add_argument("--n-eval", type=int, default=128, help="val and test size each")
    parser.add_argument("--epochs", type=float, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=2e-3)
    harness.add_model_arguments(parser)
    args = parser.parse_args()
    if args.side:
        print(json.dumps(run_side(args)))
        return
    with tempfile.TemporaryDirectory(prefix="dnatune-bench-") as tmp:
        harness.build_model(Path(tmp), args)
        for inputs in args.inputs:
            lengths = make_task(Path(tmp) / inputs, inputs, args)
            runs = harness.run_sides(list(SIDES), inputs, args.repeats, tmp)
            line = {"benchmark": "finetune", "inputs": inputs}
            line.update(harness.comparison(runs, "dnatune", METRIC, TOLERANCE))
            line.update(
                n_train=args.n_train,
                epochs=args.epochs,
                batch_size=args.batch_size,
                mean_bases=harness.mean_tokens(lengths),
                model=f"bert {args.layers}x{args.hidden}",
                threads=runs["dnatune"][0]["threads"],
            )
            print(json.dumps(line), flush=True)


def make_task(directory: Path, inputs: str, args) -> list[int]:
    """A binary GC-content task (train/val/test parquet + meta.json); returns its lengths."""
    import pandas as pd

    rng = np.random.default_rng(args.seed)
    directory.mkdir(parents=True)
    lengths = []
    for split, n in (("train", args.n_train), ("val", args.n_eval), ("test", args.n_eval)):
        labels = rng.permutation(np.arange(n) % 2)
        seqs = harness.gc_sequences(rng, labels, harness.base_range(inputs, args))
        lengths += [len(s) for s in seqs]
        frame = pd.DataFrame({"sequence": seqs, "label": labels.astype("int64")})
        frame.to_parquet(directory / f"{split}.parquet")
    meta = {"task": "gc", "type": "binary", "num_labels": 2, "label_names": ["low", "high"]}
    (directory / "meta.json").write_text(json.dumps(meta))
    return lengths


def run_side(args) -> dict:
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    workdir = Path(args.workdir)
    task, out = workdir / args.input, workdir / f"{args.input}-{args.side}"
    if args.side == "dnatune":
        record, auroc = dnatune_side(workdir / "bert", task, out, args)
    else:
        record, auroc = plain_trainer_side(workdir / "bert", task, out, args)
    return {**harness.side_figures(record), METRIC: auroc, "threads": torch.get_num_threads()}


def dnatune_side(model_dir: Path, task: Path, out: Path, args) -> tuple[dict, float]:
    from dnatune import metrics
    from dnatune.cell_outputs import read_predictions
    from dnatune.train.finetune import FinetuneArguments, finetune

    history = finetune(
        FinetuneArguments.defaults(
            model_dir=str(model_dir),
            task_dir=str(task),
            output_dir=str(out),
            seed=args.seed,
            epochs=args.epochs,
            lr=args.lr,
            batch_size=args.batch_size,
            eval_steps=10**6,  # evaluated once, at the end, as the plain Trainer sides
            early_stopping_patience=0,  # every side trains the same steps
            metric="auroc",
            precision=args.precision,
        )
    )
    test = read_predictions(out / "predictions.parquet", "binary", RuntimeError)
    auroc = metrics.compute_metrics("binary", test.labels, test.scores)["auroc"]
    return history["throughput"], auroc


def plain_trainer_side(model_dir: Path, task: Path, out: Path, args) -> tuple[dict, float]:
    """run_glue.py's set-up: AutoModelForSequenceClassification, the Trainer, its collator."""
    import pandas as pd
    import torch
    from datasets import Dataset
    from sklearn.metrics import roc_auc_score
    from transformers import (
        AutoModelForSequenceClassification,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
    )

    from dnatune.corpus.tokenizers import DnaTokenizer
    from dnatune.train.cell_arguments import cell_precision
    from dnatune.train.throughput import ThroughputCallback

    tokenizer = DnaTokenizer.from_pretrained(model_dir)  # the same tokens as dnatune's
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=2)
    frames = {s: pd.read_parquet(task / f"{s}.parquet") for s in ("train", "val", "test")}
    data = {
        split: Dataset.from_dict(
            {**tokenizer(frame["sequence"].tolist()), "labels": frame["label"].tolist()}
        )
        for split, frame in frames.items()
    }
    precision = cell_precision(args.precision)
    meter = ThroughputCallback(model, precision, stage="finetune")
    padding = "max_length" if args.side == "hf_max" else "longest"
    trainer = Trainer(
        model=model,
        args=TrainingArguments(
            output_dir=str(out),
            num_train_epochs=args.epochs,
            learning_rate=args.lr,
            per_device_train_batch_size=args.batch_size,
            per_device_eval_batch_size=args.batch_size,
            warmup_steps=int(0.1 * args.epochs * len(data["train"]) / args.batch_size),
            weight_decay=0.01,
            eval_strategy="no",
            save_strategy="no",
            seed=args.seed,
            bf16=precision == "bf16",
            report_to="none",
            disable_tqdm=True,
        ),
        train_dataset=data["train"],
        data_collator=DataCollatorWithPadding(
            tokenizer.hf, padding=padding, max_length=args.max_tokens
        ),
        callbacks=[meter],
    )
    trainer.train()
    trainer.evaluate(data["val"])  # as the other sides, which select on val
    logits = trainer.predict(data["test"]).predictions
    scores = torch.softmax(torch.as_tensor(np.asarray(logits, dtype=np.float32)), -1)[:, 1]
    return meter.record, float(roc_auc_score(frames["test"]["label"], scores.numpy()))


if __name__ == "__main__":
    main()
