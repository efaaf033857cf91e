"""Benchmark suites' evaluation protocols, named by a task instead of copied key by key.

`tasks.<task>.protocol: gue | genomic_benchmarks | nt | bend` fills the task keys that
suite's paper fixes; every key the user wrote (the task's `metric`, its `finetune:` block)
still wins. What each preset holds, and why:

- gue: MCC, the headline metric of GUE (DNABERT-2, Zhou et al. 2024).
- genomic_benchmarks: accuracy, the metric of the Genomic Benchmarks paper (Gresova et al.
  2023) and its baselines.
- nt: MCC, the metric of the Nucleotide Transformer downstream tasks (Dalla-Torre et al.
  2024), and, for an `nt` folder (train and test only), its 10-fold cross-validation:
  `source.split.val_folds: 10` with seeds 0..9, so that seed s validates on fold s of train
  (dnatune.tasks.folds) and the folds are aggregated like seeds.
- bend: AUROC (macro AUROC for multilabel tasks), BEND's metric for its classification
  tasks (Marin et al. 2024; it uses AUPRC for enhancer annotation: set `metric: auprc`),
  and `method: probe`, since BEND trains supervised heads on frozen LM embeddings.

Seeds otherwise stay the grid's (`finetune.seeds`): no suite fixes them in a way worth
copying (DNABERT-2's published GUE script runs a single seed, 42; NT varies folds instead),
and several seeds are what gives each score its confidence interval. Learning rates, epochs
and batch sizes are the model's, not the suite's, so they stay the user's too.
"""

from __future__ import annotations

import copy

from dnatune.config import ConfigError

PROTOCOLS: dict[str, dict] = {
    "gue": {
        "metric": {"binary": "mcc", "multiclass": "mcc"},
        "finetune": {},
    },
    "genomic_benchmarks": {
        "metric": {"binary": "accuracy", "multiclass": "accuracy"},
        "finetune": {},
    },
    "nt": {
        "metric": {"binary": "mcc", "multiclass": "mcc"},
        "finetune": {},
        "val_folds": 10,
    },
    "bend": {
        "metric": {"binary": "auroc", "multilabel": "macro_auroc"},
        "finetune": {"method": "probe"},
    },
}


def apply_protocols(config: dict) -> None:
    """Fill each task's keys from its protocol, in place; the keys written in it win.

    Raises ConfigError when the protocol has no metric for the task's type and the task
    sets none.
    """
    for task, spec in config.get("tasks", {}).items():
        name = spec.get("protocol")
        if name is None:
            continue
        preset = PROTOCOLS[name]
        if spec.get("metric") is None:
            metric = preset["metric"].get(spec["type"])
            if metric is None:
                raise ConfigError(
                    f"key 'tasks.{task}.protocol': protocol {name!r} fixes a metric for "
                    f"{' and '.join(preset['metric'])} tasks, not {spec['type']}. "
                    f"Fix: set tasks.{task}.metric"
                )
            spec["metric"] = metric
        finetune = spec.setdefault("finetune", {})
        for key, value in preset["finetune"].items():
            finetune.setdefault(key, copy.deepcopy(value))
        if "val_folds" in preset and "nt" in spec["source"]:
            _fill_folds(spec, preset["val_folds"])


def _fill_folds(spec: dict, folds: int) -> None:
    """K val folds of train, and seeds 0..K-1 so that each fold is one cell's val split."""
    split = spec["source"].setdefault("split", {})
    split.setdefault("val_folds", folds)
    spec["finetune"].setdefault("seeds", list(range(split["val_folds"])))
