"""Prove a fetched model usable before any training: with each head the workflow can use
it with (its pre-training objective, sequence classification), it loads, runs one forward
on a short sequence, and survives a save and reload.

A model that cannot load (a missing package, code that breaks on this transformers)
then fails in the fetch_model job within seconds, naming the model, the cause and
the fix, instead of after hours of pre-training. Both heads are proved whatever the
config uses: were the proof to follow the config's tasks and variants, adding one
would change fetch_model's params and so refetch the model and rerun its pre-training.
"""

from __future__ import annotations

import logging
import re
import tempfile
import time
from pathlib import Path

import torch

logger = logging.getLogger(__name__)

PROBE_SEQUENCE = "ACGTTGCAAGCTTCGAATGCCGTAACGGTACA"  # 32 bases: a few tokens in any vocabulary
# Packages real families' code imports beyond the base install: (pip name, dnatune extra, note)
EXTRAS = {
    "einops": ("einops", "dnabert2", ""),
    "mamba_ssm": ("mamba-ssm", "caduceus", "; it builds CUDA kernels, so it needs a CUDA GPU"),
}


def prove_usable(
    model_dir,
    name: str,
    trust_remote_code: bool,
    objective: str | None = "auto",
    classify: bool = True,
) -> None:
    """Load `model_dir` for continued pre-training (`objective`: auto, mlm or clm; None
    skips it) and, if `classify`, sequence classification; forward, save and reload each.

    A model without a pre-training head for its kind only gets a warning (its
    `continued` variant cannot run; fine-tuning can). Any other failure raises
    ModelSourceError naming the model, the use, the cause and the fix.
    """
    from dnatune.train.loading import MissingHeadError
    from dnatune.train.models import ModelSourceError

    uses = ([f"pre-training ({objective})"] if objective else []) + (
        ["fine-tuning (sequence classification)"] if classify else []
    )
    for use in uses:
        started = time.perf_counter()
        try:
            if use.startswith("pre-training"):
                _prove_language_model(model_dir, objective, trust_remote_code)
            else:
                _prove_classifier(model_dir, trust_remote_code)
        except ImportError as err:
            raise ModelSourceError(missing_package_message(name, err)) from err
        except ValueError as err:  # ModelSourceError and MissingHeadError too
            no_head = "Unrecognized configuration class" in str(err)
            if use.startswith("pre-training") and (no_head or isinstance(err, MissingHeadError)):
                logger.warning(
                    "%s has no %s head (%s): its continued variant cannot run", name, use, err
                )
                continue
            if isinstance(err, MissingHeadError):
                raise ModelSourceError(
                    f"model '{name}' cannot be used for {use}, so none of its variants and "
                    f"methods can run: {err}; or remove models.{name} from the config"
                ) from err
            if isinstance(err, ModelSourceError):  # its message says the fix
                raise ModelSourceError(f"model '{name}' cannot be used for {use}: {err}") from err
            raise ModelSourceError(failure_message(name, use, err)) from err
        except Exception as err:
            raise ModelSourceError(failure_message(name, use, err)) from err
        logger.info("%s: %s works (%.1f s)", name, use, time.perf_counter() - started)


def failure_message(name: str, use: str, err: Exception) -> str:
    return (
        f"model '{name}' cannot be used for {use}: {type(err).__name__}: {err}. "
        f"Fix: pin models.{name}.revision to a version whose code runs on the installed "
        "transformers (dnatune supports the range in its pyproject.toml), or remove the model "
        "from the config"
    )


def missing_package_message(name: str, err: ImportError) -> str:
    """What to install for a model whose code imports a package that is not installed."""
    found = re.search(r"not found in your environment: ([\w, .-]+?)\.? Run", str(err))
    missing = found.group(1).split(", ") if found else [getattr(err, "name", None) or str(err)]
    fixes = []
    for package in missing:
        pip_name, extra, note = EXTRAS.get(package, (package, None, ""))
        via_extra = f"`pip install 'dnatune[{extra}]'` or " if extra else ""
        fixes.append(f"{package}: {via_extra}`pip install {pip_name}`{note}")
    return (
        f"model '{name}': its code imports {', '.join(missing)}, which is not installed. "
        f"Install it where the workflow runs ({'; '.join(fixes)}) and rerun"
    )


def _prove_language_model(model_dir, objective: str, trust_remote_code: bool) -> None:
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForMaskedLM

    from dnatune.corpus.tokenizers import DnaTokenizer
    from dnatune.train.loading import load_model, save_model
    from dnatune.train.pretrain import resolve_objective

    tokenizer = DnaTokenizer.from_pretrained(model_dir, trust_remote_code=trust_remote_code)
    config = AutoConfig.from_pretrained(model_dir, trust_remote_code=trust_remote_code)
    objective = resolve_objective(objective, config)
    auto = AutoModelForMaskedLM if objective == "mlm" else AutoModelForCausalLM
    ids = tokenizer([PROBE_SEQUENCE])["input_ids"]
    batch = {"input_ids": torch.tensor(ids), "labels": torch.tensor(ids)}  # no padding: one row

    def load(directory):
        return load_model(auto, directory, trust_remote_code, config=config)

    _forward_save_reload(model_dir, load, save_model, batch)


def _prove_classifier(model_dir, trust_remote_code: bool) -> None:
    from dnatune.corpus.tokenizers import DnaTokenizer
    from dnatune.train.loading import save_model
    from dnatune.train.models import load_sequence_classifier

    tokenizer = DnaTokenizer.from_pretrained(model_dir, trust_remote_code=trust_remote_code)
    batch = tokenizer.hf.pad(tokenizer([PROBE_SEQUENCE]), return_tensors="pt")
    batch["labels"] = torch.tensor([1])

    def load(directory):
        return load_sequence_classifier(
            directory, 2, "single_label_classification", False, 0, trust_remote_code
        )[0]

    def save(model, directory):  # the classifier loader reads the tokenizer beside the weights
        save_model(model, directory)
        tokenizer.save_pretrained(directory)

    _forward_save_reload(model_dir, load, save, batch)


def _forward_save_reload(model_dir, load, save, batch: dict) -> None:
    """One forward with a finite loss; the saved and reloaded model gives the same logits.

    One model is held at a time, and the copy is saved beside `model_dir` (the fetch's
    own filesystem, not /tmp: on a login node that may be small).
    """
    model = load(model_dir).eval()
    with torch.no_grad():
        out = model(**batch)
    if out.loss is None or not torch.isfinite(out.loss):
        raise ValueError(f"a forward on a {len(PROBE_SEQUENCE)}-base sequence gave loss {out.loss}")
    with tempfile.TemporaryDirectory(dir=Path(model_dir).parent, prefix=".proof-") as tmp:
        save(model, Path(tmp))
        del model
        reloaded = load(tmp).eval()
        with torch.no_grad():
            again = reloaded(**batch)
    if not torch.allclose(out.logits, again.logits, atol=1e-4):
        raise ValueError("the model saved and reloaded gives other outputs: weights were lost")
