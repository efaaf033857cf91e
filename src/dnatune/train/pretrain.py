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
from dataclasses import dataclass

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

from dnatune.atomic import atomic_path
from dnatune.settings import PretrainSettings
from dnatune.train import checkpoints
from dnatune.train.checkpoints import checkpoint_step, last_complete_checkpoint
from dnatune.train.families import family_of
from dnatune.train.launch import device_flags, per_device_batch
from dnatune.train.loading import (
    AliasSafeTrainer,
    can_mask_padding,
    load_model,
    unpadded_batches,
)
from dnatune.train.masking import (
    IgnoreWithPadLabel,
    MaskEpochCallback,
    MaskSeeded,
    language_modeling_collator,
)
from dnatune.train.models import max_model_tokens, model_family
from dnatune.train.packing import PackedBatches, use_packing
from dnatune.train.pretrain_data import (
    corpus_windows,
    load_windows,
    token_lengths,
    unigram_entropy,
)
from dnatune.train.throughput import ThroughputCallback, run_precision
from dnatune.train.trainer_options import training_arguments
from dnatune.train.training_speed import speed_arguments

logger = logging.getLogger(__name__)

FINGERPRINT = "dnatune_pretrain_args.json"
SUMMARY = "pretrain_summary.json"


@dataclass
class PretrainArguments(PretrainSettings):
    """One pre-training run: its pretrain settings (config key `pretrain`, the model's own
    block over it) and paths. The settings have no defaults here: the workflow passes the
    block the schema filled (`from_config`), tests and benchmarks take `defaults()`.
    """

    model_dir: str  # MODEL_BASE: the HF model dir with its tokenizer
    corpus_dirs: list[str]  # CORPUS_DIR of each pre-training genome, the model's tokenizer
    output_dir: str  # MODEL_STAGE, written atomically at the end
    checkpoint_dir: str  # results/checkpoints/pretrain/{model}/{stage}: survives a killed job
    trust_remote_code: bool = False  # models.<m>.trust_remote_code
    threads: int = 0  # CPU threads (torch.set_num_threads); 0 leaves torch's default
    eval_windows: int = 1000  # val windows scored at each checkpoint
    keep_checkpoints: bool = False  # delete checkpoint_dir once the output is complete


def main(args: PretrainArguments, callbacks: list | None = None) -> dict:
    """Pre-train `args.model_dir` on the corpora; return a summary (also saved as pretrain_summary.json)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if args.threads:
        torch.set_num_threads(max(1, args.threads // world_size))
    set_seed(args.seed)

    loaded = load_pretrain_model(args)
    tokenizer, config, objective, model = loaded
    max_length = max_model_tokens(config, tokenizer.max_length)
    if corpus_windows(args.corpus_dirs, "train") == 0:
        raise ValueError(
            f"no training windows in {args.corpus_dirs}: the train split of the pre-training "
            "corpus is empty; lower windows.split.val/test or add genomes to pretrain.genomes"
        )
    has_val = corpus_windows(args.corpus_dirs, "val") > 0
    training_args = pretrain_training_arguments(args, objective, has_val, world_size)
    # resume from the last checkpoint of this exact run, if a killed job left one
    with training_args.main_process_first(desc="checkpoints"):
        if training_args.process_index == 0:
            discard_stale_checkpoints(args)
        last = last_complete_checkpoint(args.checkpoint_dir, clean=training_args.process_index == 0)
    train, val = load_windows(args, training_args, max_length, has_val)
    val_entropy = None if val is None else unigram_entropy(val, tokenizer.hf)
    trainer, throughput, packed = make_pretrainer(
        args, loaded, training_args, (train, val), callbacks
    )
    _log_start(args, loaded, training_args, (train, val), max_length, last)
    result = trainer.train(resume_from_checkpoint=last)
    metrics = final_eval(trainer) if val is not None else {}
    summary = {
        "objective": objective,
        "global_step": trainer.state.global_step,
        "resumed_from_step": checkpoint_step(last),
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
        write_output(args, trainer, tokenizer, summary)
    return summary


# ---------------------------------------------------------------- the steps, in order


def load_pretrain_model(args: PretrainArguments) -> tuple:
    """(tokenizer, config, objective, model): the model with the head of its objective."""
    from dnatune.corpus.tokenizers import DnaTokenizer

    tokenizer = DnaTokenizer.from_pretrained(
        args.model_dir, trust_remote_code=args.trust_remote_code
    )
    config = AutoConfig.from_pretrained(args.model_dir, trust_remote_code=args.trust_remote_code)
    objective = resolve_objective(args.objective, config)
    auto = AutoModelForMaskedLM if objective == "mlm" else AutoModelForCausalLM
    model = load_model(auto, args.model_dir, args.trust_remote_code, config=config)
    return tokenizer, config, objective, model


def pretrain_training_arguments(
    args: PretrainArguments, objective: str, has_val: bool, world_size: int
) -> TrainingArguments:
    """Precision, batch split and checkpointing; then the marked schema knobs and `trainer:`."""
    pipeline = dict(
        output_dir=args.checkpoint_dir,
        max_steps=args.max_steps,
        per_device_train_batch_size=per_device_batch(args.batch_size, world_size),
        per_device_eval_batch_size=per_device_batch(args.batch_size, world_size),
        learning_rate=args.lr,
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
    return training_arguments(pipeline, args, "pretrain")


def make_pretrainer(args, loaded: tuple, training_args, data: tuple, callbacks) -> tuple:
    """(Trainer, ThroughputCallback, packed) of `loaded` (tokenizer, config, objective, model)
    on `data` (train, val).

    Batches are padded per batch by the objective's collator (never padded for a model that
    cannot mask padding: unpadded_batches), or packed where exact (`pretrain.packing`); MLM
    masks are seeded per window and epoch.
    """
    tokenizer, config, objective, model = loaded
    train, val = data
    family = family_of(config)
    if family and family.padding_side:
        tokenizer.hf.padding_side = family.padding_side
    batching = unpadded_batches(
        model,
        training_args.per_device_train_batch_size,
        token_lengths(train),
        token_lengths(val) if val is not None else set(),
    )
    for key, value in batching.items():  # a `trainer:` knob the user set wins
        if key not in args.trainer:
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
    return trainer, throughput, packed


def _log_start(args, loaded: tuple, training_args, data: tuple, max_length: int, last) -> None:
    _, config, objective, model = loaded
    train, val = data
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
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
        f", resuming from step {checkpoint_step(last)}" if last else "",
    )


def write_output(args: PretrainArguments, trainer, tokenizer, summary: dict) -> None:
    """The final model directory, atomically; then the checkpoints go (unless kept)."""
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
        "n/a"
        if summary["val_unigram_entropy"] is None
        else f"{summary['val_unigram_entropy']:.3f}",
        args.output_dir,
    )


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
