"""Non-LM baselines as grid variants: a one-hot CNN and k-mer spectrum logistic regression.

A baseline cell belongs to a task, not to a model: it lies at
results/finetune/{task}/baseline/{variant}/f{fraction}/s{seed}/ and writes what a
fine-tuning cell writes (predictions.parquet, history.json, model/), trained on the
same label subsample and scored by the same evaluate stage.
"""

from dnatune.baselines.cell import BaselineArguments, train_baseline
from dnatune.config import BASELINE_MODEL, BASELINES

__all__ = ["BASELINES", "BASELINE_MODEL", "BaselineArguments", "train_baseline"]
