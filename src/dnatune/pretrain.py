"""Pre-training, or continued pre-training, of a DNA language model on token corpora.

Laid out like Hugging Face's run_mlm.py: one dataclass of arguments and a linear
`main`. The objective is masked (encoders) or causal (decoders) language
modelling with the transformers Trainer. Checkpoints are written every
`save_steps` into `checkpoint_dir`, outside the final output, so that a killed
or requeued job resumes from the last one; the final model directory is
written atomically with its tokenizer and trainer_state.json.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    set_seed,
)
from transformers.trainer_callback import PrinterCallback, ProgressCallback

from dnatune import checkpoints
from dnatune.atomic import atomic_path
from dnatune.checkpoints import checkpoint_step, last_complete_checkpoint
from dnatune.families import family_of
from dnatune.launch import device_flags, per_device_batch
from dnatune.masking import (
    IgnoreWithPadLabel,
    MaskEpochCallback,
    MaskSeeded,
    language_modeling_collator,
)
from dnatune.model_loading import (
    AliasSafeTrainer,
    can_mask_padding,
    load_model,
    unpadded_batches,
)
from dnatune.models import max_model_tokens, model_family
from dnatune.packing import PackedBatches, use_packing
from dnatune.throughput import ThroughputCallback
from dnatune.training_speed import speed_arguments

logger = logging.getLogger(__name__)

FINGERPRINT = "dnatune_pretrain_args.json"
SUMMARY = "pretrain_summary.json"


@dataclass
class PretrainArguments:
    """Everything one pre-training run depends on (config key `pretrain`, plus paths)."""

    model_dir: str  # MODEL_BASE: the HF model dir with its tokenizer
    corpus_dirs: list[str]  # CORPUS_DIR of each pre-training genome, the model's tokenizer
    output_dir: str  # MODEL_STAGE, written atomically at the end
    checkpoint_dir: str  # results/checkpoints/pretrain/{model}/{stage}: survives a killed job
    objective: str = "auto"  # auto: mlm for encoders, clm for decoders
    max_steps: int = 2000
    batch_size: int = 32  # global batch, split over the processes of a multi-GPU run
    lr: float = 5e-4
    weight_decay: float = 0.01
    warmup_ratio: float = 0.05
    mlm_probability: float = 0.15
    save_steps: int = 500
    logging_steps: int = 50
    precision: str = "auto"  # auto: bf16 on a CUDA GPU that supports it, fp32 otherwise
    seed: int = 0
    trust_remote_code: bool = False
    threads: int = 0  # CPU threads (torch.set_num_threads); 0 leaves torch's default
    eval_windows: int = 1000  # val windows scored at each checkpoint
    keep_checkpoints: bool = False  # delete checkpoint_dir once the output is complete
    packing: bool | str = "auto"  # auto: where exact and fast, flash-attention 2 (packing.py)
    compile: bool = False  # torch.compile (training_speed.py)
    fused_optimizer: bool | str = "auto"  # auto: fused AdamW on a CUDA GPU
    genomes: list[str] = field(default_factory=list)  # recorded only


def main(args: PretrainArguments, callbacks: list | None = None) -> dict:
    """Pre-train `args.model_dir` on the corpora; return a summary (also saved as pretrain_summary.json)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if args.threads:
        torch.set_num_threads(max(1, args.threads // world_size))
    set_seed(args.seed)

    # 1. model and tokenizer
    from dnatune.tokenizers import DnaTokenizer

    tokenizer = DnaTokenizer.from_pretrained(
        args.model_dir, trust_remote_code=args.trust_remote_code
    )
    config = AutoConfig.from_pretrained(args.model_dir, trust_remote_code=args.trust_remote_code)
    objective = resolve_objective(args.objective, config)
    auto = AutoModelForMaskedLM if objective == "mlm" else AutoModelForCausalLM
    model = load_model(auto, args.model_dir, args.trust_remote_code, config=config)
    max_length = max_model_tokens(config, tokenizer.max_length)
    if corpus_windows(args.corpus_dirs, "train") == 0:
        raise ValueError(
            f"no training windows in {args.corpus_dirs}: the train split of the pre-training "
            "corpus is empty; lower windows.split.val/test or add genomes to pretrain.genomes"
        )
    has_val = corpus_windows(args.corpus_dirs, "val") > 0

    # 2. training arguments: precision, batch split, checkpointing
    training_args = TrainingArguments(
        output_dir=args.checkpoint_dir,
        max_steps=args.max_steps,
        per_device_train_batch_size=per_device_batch(args.batch_size, world_size),
        per_device_eval_batch_size=per_device_batch(args.batch_size, world_size),
        learning_rate=args.lr,
        weight_decay=args.weight_decay,
        warmup_steps=int(round(args.warmup_ratio * args.max_steps)),
        lr_scheduler_type="linear",
        logging_steps=args.logging_steps,
        logging_first_step=True,
        save_strategy="steps",
        save_steps=args.save_steps,
        save_total_limit=2,
        eval_strategy="steps" if has_val else "no",
        eval_steps=args.save_steps,
        prediction_loss_only=True,
        # MaskSeeded windows carry their mask seeds, which the MLM collator takes off itself
        remove_unused_columns=objective != "mlm",
        seed=args.seed,
        report_to="none",
        disable_tqdm=True,
        **precision_flags(args.precision),
        **speed_arguments(args.compile, args.fused_optimizer, "pretrain"),
        **device_flags(world_size),
        # BERT's and ESM's masked-LM heads average their loss over the batch themselves;
        # with the default (True) transformers also scales it by the process count,
        # doubling DDP's gradients. Off, each process averages its own tokens.
        average_tokens_across_devices=False,
    )

    # 3. resume from the last checkpoint of this exact run, if a killed job left one
    with training_args.main_process_first(desc="checkpoints"):
        if training_args.process_index == 0:
            discard_stale_checkpoints(args)
        last = last_complete_checkpoint(args.checkpoint_dir, clean=training_args.process_index == 0)
    resumed_from = checkpoint_step(last)

    # 4. data: token windows cut to the model's length, padded per batch by the collator
    from dnatune.corpus import load_corpus

    with training_args.main_process_first(desc="corpus"):
        train = fit_to_length(load_corpus(args.corpus_dirs, "train"), max_length)
        val = fit_to_length(load_corpus(args.corpus_dirs, "val"), max_length) if has_val else None
    if val is not None and len(val) > args.eval_windows:
        val = val.shuffle(seed=args.seed).select(range(args.eval_windows))
    val_entropy = None if val is None else unigram_entropy(val, tokenizer.hf)
    family = family_of(config)
    if family and family.padding_side:
        tokenizer.hf.padding_side = family.padding_side
    batching = unpadded_batches(
        model,
        per_device_batch(args.batch_size, world_size),
        token_lengths(train),
        token_lengths(val) if val is not None else set(),
    )
    for key, value in batching.items():  # a model that cannot mask padding is never padded
        setattr(training_args, key, value)
    seeded_masks = []
    if objective == "mlm":  # each window's masks from (seed, epoch, window): exact on resume
        train = MaskSeeded(train, args.seed)
        val = None if val is None else MaskSeeded(val, args.seed)
        seeded_masks = [MaskEpochCallback(train)]
    collator = language_modeling_collator(
        tokenizer.hf, objective, args.mlm_probability, tokenizer.kmer, can_mask_padding(model)
    )
    if objective == "mlm" and family and family.mlm_ignore_label == "pad":
        collator = IgnoreWithPadLabel(collator, tokenizer.hf.pad_token_id)
    packed = use_packing(args.packing, model)
    if packed:
        collator = PackedBatches(collator, objective)

    # 5. train
    throughput = ThroughputCallback(model, run_precision(training_args), stage="pretrain")
    trainer = AliasSafeTrainer(
        model=model,
        args=training_args,
        train_dataset=train,
        eval_dataset=val,
        data_collator=collator,
        processing_class=tokenizer.hf,
        callbacks=[LogLinesCallback(), throughput, *seeded_masks, *(callbacks or [])],
    )
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    logger.info(
        "pre-training %s (%s, %s, %.2fM parameters) on %d windows (%d val), max %d tokens, "
        "%d steps of global batch %d over %d process(es), %s%s",
        args.model_dir,
        config.model_type,
        objective,
        sum(p.numel() for p in model.parameters()) / 1e6,
        len(train),
        0 if val is None else len(val),
        max_length,
        args.max_steps,
        training_args.per_device_train_batch_size
        * training_args.gradient_accumulation_steps
        * world_size,
        world_size,
        describe_device(training_args, model),
        f", resuming from step {resumed_from}" if last else "",
    )
    result = trainer.train(resume_from_checkpoint=last)
    metrics = final_eval(trainer) if val is not None else {}

    # 6. the final model directory, atomically, by the main process only
    summary = {
        "objective": objective,
        "global_step": trainer.state.global_step,
        "resumed_from_step": resumed_from,
        "train_loss": result.training_loss,
        "final_train_loss": last_logged(trainer.state.log_history, "loss"),
        "eval_loss": metrics.get("eval_loss"),
        # the loss of knowing only token frequencies: val loss must beat it to show context learnt
        "val_unigram_entropy": val_entropy,
        "train_windows": len(train),
        "max_length": max_length,
        "world_size": world_size,
        "genomes": args.genomes,
        "packing": packed,
        "throughput": throughput.record,
    }
    if trainer.is_world_process_zero():
        with atomic_path(args.output_dir, directory=True) as tmp:
            checkpoints.save_final_model(trainer, tmp)
            tokenizer.save_pretrained(tmp)
            trainer.state.save_to_json(str(tmp / "trainer_state.json"))
            (tmp / SUMMARY).write_text(json.dumps(summary, indent=2) + "\n")
        if not args.keep_checkpoints:  # and {model}/, pretrain/ and checkpoints/ when left empty
            checkpoints.remove_checkpoints(args.checkpoint_dir, levels=3)
        logger.info(
            "pre-trained %d steps: train loss %.3f, val loss %s (unigram entropy of the val "
            "tokens %s) -> %s",
            summary["global_step"],
            summary["final_train_loss"] or float("nan"),
            "n/a" if summary["eval_loss"] is None else f"{summary['eval_loss']:.3f}",
            "n/a" if val is None else f"{summary['val_unigram_entropy']:.3f}",
            args.output_dir,
        )
    return summary


# ---------------------------------------------------------------- helpers, in the order used


def resolve_objective(objective: str, config) -> str:
    """auto -> the family's objective (families.py), else mlm for encoders and clm for decoders.

    An explicit choice must fit the model.
    """
    family = family_of(config)
    if family:
        natural = family.objective
        what = f"{family.name} family, model type {config.model_type}"
    else:
        natural = "mlm" if model_family(config) == "encoder" else "clm"
        what = f"model type {config.model_type}"
    if objective == "auto":
        return natural
    if objective not in ("mlm", "clm"):
        raise ValueError(f"key 'pretrain.objective': '{objective}' is not one of auto, mlm, clm")
    if objective != natural:
        raise ValueError(
            f"key 'pretrain.objective': {objective} does not fit "
            f"{'an encoder' if natural == 'mlm' else 'a decoder'} ({what}); use {natural} or auto"
        )
    return objective


def precision_flags(precision: str) -> dict:
    if precision == "auto":
        cuda_bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
        return {"bf16": cuda_bf16}
    if precision not in ("fp32", "bf16", "fp16"):
        raise ValueError(f"key 'pretrain.precision': '{precision}' is not auto, fp32, bf16 or fp16")
    return {"bf16": precision == "bf16", "fp16": precision == "fp16"}


def run_precision(training_args: TrainingArguments) -> str:
    return "bf16" if training_args.bf16 else "fp16" if training_args.fp16 else "fp32"


def describe_device(training_args: TrainingArguments, model) -> str:
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = run_precision(training_args)
    attention = getattr(model.config, "_attn_implementation", None) or "default"
    return f"{device} {dtype}, {attention} attention"


def run_fingerprint(args: PretrainArguments) -> dict:
    """What a checkpoint depends on: the settings and the exact input files.

    A checkpoint from a run with other settings or another base model must not
    be resumed; the input files are identified by name, size and mtime.
    """
    settings = dataclasses.asdict(args)
    for key in ("output_dir", "checkpoint_dir", "threads", "keep_checkpoints", "genomes"):
        settings.pop(key)
    settings["inputs_sha256"] = checkpoints.inputs_digest([args.model_dir, *args.corpus_dirs])
    return settings


def discard_stale_checkpoints(args: PretrainArguments) -> None:
    """Keep checkpoints only if they come from a run with the same fingerprint."""
    checkpoints.discard_stale_checkpoints(args.checkpoint_dir, run_fingerprint(args), FINGERPRINT)


def corpus_windows(corpus_dirs: list[str], split: str) -> int:
    """Windows in a split of the corpora, from their stats.json."""
    total = 0
    for directory in corpus_dirs:
        path = Path(directory) / "stats.json"
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing; build the corpus with its rule first")
        total += int(json.loads(path.read_text()).get(split, {}).get("windows", 0))
    return total


def fit_to_length(dataset, max_length: int):
    """Cut windows longer than the model accepts into consecutive chunks of max_length tokens."""
    import pyarrow.compute as pc

    if len(dataset) == 0:
        return dataset
    lengths = pc.list_value_length(dataset.data.column("input_ids"))
    if pc.max(lengths).as_py() <= max_length:
        return dataset
    logger.info("chunking windows longer than %d tokens", max_length)

    def chunk(batch):
        return {
            "input_ids": [
                ids[start : start + max_length]
                for ids in batch["input_ids"]
                for start in range(0, len(ids), max_length)
            ]
        }

    return dataset.map(chunk, batched=True, remove_columns=dataset.column_names)


def token_lengths(dataset) -> set[int]:
    """The distinct token counts of a corpus dataset's windows."""
    import pyarrow.compute as pc

    if len(dataset) == 0:
        return set()
    return set(pc.unique(pc.list_value_length(dataset.data.column("input_ids"))).to_pylist())


class LogLinesCallback(TrainerCallback):
    """One log line per logging step, in the rule's log file instead of stdout."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero and logs:
            values = " ".join(
                f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in logs.items()
            )
            logger.info("step %d/%d %s", state.global_step, state.max_steps, values)


def final_eval(trainer: Trainer) -> dict:
    """Val metrics at the last step: the logged ones when the schedule just evaluated there."""
    history = trainer.state.log_history
    done = [e for e in history if "eval_loss" in e and e.get("step") == trainer.state.global_step]
    return done[-1] if done else trainer.evaluate()


def last_logged(log_history: list[dict], key: str) -> float | None:
    values = [entry[key] for entry in log_history if key in entry]
    return values[-1] if values else None


def unigram_entropy(dataset, hf_tokenizer) -> float:
    """Entropy (nats) of the token frequencies in `dataset`, special tokens left out.

    The loss of a model that knows only how often each token occurs (the base
    composition, for one token per base): the reference a val loss is read against.
    Guessing uniformly among the vocabulary would flatter any model of a GC-skewed genome.
    """
    import pyarrow.compute as pc

    ids = pc.list_flatten(dataset.with_format("arrow")["input_ids"]).to_numpy()
    counts = np.bincount(ids, minlength=len(hf_tokenizer))
    counts[sorted(set(hf_tokenizer.all_special_ids))] = 0
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())
