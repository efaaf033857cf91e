"""What the variant-effect rules run, from `apply` in the config: the scorers and their names.

Zero-shot scorers: each model of `apply.models` (default: every model) in each language-model
variant the grid asks for (scratch, pretrained, continued). Supervised scorers: the fine-tuned
cells of `apply.cells` (default: every language-model cell at the largest label fraction and
the first seed). Each scorer's name is its INFO ID in the output VCF and its column in the TSV.
"""

from __future__ import annotations

import re
from pathlib import Path

from dnatune.apply.cells import selected_cells
from dnatune.config import (
    Cell,
    ConfigError,
    fraction_label,
    task_finetune,
    variants_for,
)

SIMULATED = "simulated"
PLANTED_NAME = "planted"
PLANTED_TRUTH = "BROKEN"
PLANTED_GROUP = "ELEMENT"
VCF_SUFFIXES = (".vcf.gz", ".vcf.bgz", ".vcf", ".bcf")
INFO_ID = re.compile(r"[^0-9A-Za-z_.]")


def variants_settings(config: dict) -> dict | None:
    return (config.get("apply") or {}).get("variants")


def vcf_name(settings: dict) -> str:
    """Folder name of a VCF's results: `planted`, or the file's name without its suffix."""
    if settings["vcf"] == SIMULATED:
        return PLANTED_NAME
    name = Path(settings["vcf"]).name
    for suffix in VCF_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def truth_flag(settings: dict) -> str | None:
    return settings.get("truth") or (PLANTED_TRUTH if settings["vcf"] == SIMULATED else None)


def group_info(settings: dict) -> str | None:
    return settings.get("group") or (PLANTED_GROUP if settings["vcf"] == SIMULATED else None)


def check_variants_config(config: dict) -> None:
    """The cross-references of apply.variants the schema cannot check (apply.cells and
    apply.models: dnatune.apply.cells.check_apply)."""
    settings = variants_settings(config)
    if settings is None:
        return
    genome = settings["genome"]
    if genome not in config["genomes"]:
        raise ConfigError(
            f"key 'apply.variants.genome': unknown genome '{genome}'; "
            f"use one of {', '.join(config['genomes'])}"
        )
    if settings["vcf"] == SIMULATED and "simulate" not in config["genomes"][genome]:
        raise ConfigError(
            f"key 'apply.variants.vcf': 'simulated' needs a simulate genome, but genomes.{genome} "
            "is not one; give the path of a VCF or choose a simulate genome"
        )


def supervised_cells(config: dict) -> list[Cell]:
    """apply.cells, else the grid's language-model cells at the largest fraction, first seed."""
    if (config.get("apply") or {}).get("cells") is not None:
        return selected_cells(config)
    cells = []
    for task in config.get("tasks", {}):
        settings = task_finetune(config, task)
        fraction = fraction_label(max(settings["label_fractions"]))
        for model, model_cfg in config["models"].items():
            for variant in variants_for(model_cfg, settings["variants"]):
                cells.append(Cell(task, model, variant, fraction, min(settings["seeds"])))
    return cells


def zero_shot_scorers(config: dict) -> list[dict]:
    settings = variants_settings(config)
    if not settings or not settings["zero_shot"]:
        return []
    requested = set(config["finetune"]["variants"])
    for task in config.get("tasks", {}):
        requested |= set(task_finetune(config, task)["variants"])
    models = (config.get("apply") or {}).get("models") or list(config["models"])
    return [
        {
            "name": info_id("ZS", model, variant),
            "kind": "zero_shot",
            "model": model,
            "variant": variant,
        }
        for model in models
        for variant in variants_for(config["models"][model], sorted(requested, key=_variant_order))
    ]


def supervised_scorers(config: dict) -> list[dict]:
    settings = variants_settings(config)
    if not settings or not settings["supervised"]:
        return []
    return [
        {
            "name": info_id("SV", c.task, c.model, c.variant, f"f{c.fraction}", f"s{c.seed}"),
            "kind": "supervised",
            "task": c.task,
            "model": c.model,
            "variant": c.variant,
            "fraction": c.fraction,  # the result folder's label (f1, f0.05)
            "label_fraction": float(c.fraction),
            "seed": c.seed,
            "cell": c.path,
        }
        for c in supervised_cells(config)
    ]


def describe(scorer: dict) -> str:
    """The INFO header Description of a scorer's field."""
    if scorer["kind"] == "zero_shot":
        return (
            f"dnatune zero-shot: log-likelihood ratio ln p(ALT)/p(REF) under model "
            f"{scorer['model']} ({scorer['variant']}); negative where the model disfavours ALT"
        )
    return (
        f"dnatune supervised: ALT minus REF score of the fine-tuned cell {scorer['cell']} "
        f"(task {scorer['task']})"
    )


def _variant_order(variant: str) -> int:
    order = ("scratch", "pretrained", "continued")
    return order.index(variant) if variant in order else len(order)


def info_id(*parts) -> str:
    """A VCF INFO ID from name parts (ZS, model, variant ...): only [0-9A-Za-z_.]."""
    return INFO_ID.sub("_", "_".join(str(p) for p in parts))
