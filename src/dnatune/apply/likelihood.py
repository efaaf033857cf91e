"""Zero-shot variant effects: how much more (or less) likely a language model finds ALT than REF.

Scores are natural-log likelihood ratios, positive where the model prefers the alternative:

- masked LMs, REF and ALT windows of one token length (SNVs and MNVs, and any variant whose
  tokenization stays aligned): the masked-marginal ratio (Meier et al. 2021). The tokens that
  differ between the two tokenizations are masked together in the reference window and the
  score is sum log p(alt token) - log p(ref token) over them. How a variant maps to tokens
  follows from the tokenizer: one token per base (char), the k overlapping k-mers holding the
  base (DNABERT), the one k-mer holding it (non-overlapping k-mers, as Nucleotide Transformer),
  the BPE pieces that change;
- masked LMs otherwise (indels, and BPE re-segmentations that change the token count): a
  span pseudo-log-likelihood difference. Tokens shared at both ends of the two tokenizations
  are left out; each remaining token is masked alone and scored from the rest of its own window,
  and the score is PLL(alt span) - PLL(ref span). A frame-shifting indel under non-overlapping
  k-mers changes every token downstream of it, so its span runs to the window's end;
- causal LMs: the log-likelihood of the whole alternative window minus the reference's.

`method` says which rule gave each score.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import torch

logger = logging.getLogger(__name__)

MASKED_MARGINAL = "masked_marginal"
SPAN_PLL = "span_pll"
SEQUENCE_LLR = "sequence_llr"


@dataclass
class Query:
    """One forward's input and the log-probabilities it contributes: (logit position, token, sign)."""

    allele: int
    ids: np.ndarray
    terms: list[tuple[int, int, float]] = field(default_factory=list)


def common_ends(ref: np.ndarray, alt: np.ndarray) -> tuple[int, int]:
    """Lengths of the shared prefix and suffix of two token sequences (never overlapping)."""
    shortest = min(len(ref), len(alt))
    prefix = 0
    while prefix < shortest and ref[prefix] == alt[prefix]:
        prefix += 1
    suffix = 0
    while suffix < shortest - prefix and ref[-1 - suffix] == alt[-1 - suffix]:
        suffix += 1
    return prefix, suffix


def masked_queries(allele: int, ref: np.ndarray, alt: np.ndarray, mask_id: int):
    """(method, queries) of a masked LM for one allele's reference and alternative token ids."""
    if len(ref) == len(alt):
        differ = np.flatnonzero(ref != alt)
        masked = ref.copy()
        masked[differ] = mask_id
        terms = [(int(d), int(alt[d]), 1.0) for d in differ]
        terms += [(int(d), int(ref[d]), -1.0) for d in differ]
        return MASKED_MARGINAL, [Query(allele, masked, terms)] if terms else []
    prefix, suffix = common_ends(ref, alt)
    queries = []
    for ids, sign in ((alt, 1.0), (ref, -1.0)):
        for position in range(prefix, len(ids) - suffix):
            masked = ids.copy()
            masked[position] = mask_id
            queries.append(Query(allele, masked, [(position, int(ids[position]), sign)]))
    return SPAN_PLL, queries


def causal_queries(allele: int, ref: np.ndarray, alt: np.ndarray):
    """(method, queries) of a causal LM: each token predicted from the ones before it."""
    queries = [
        Query(allele, ids, [(t - 1, int(ids[t]), sign) for t in range(1, len(ids))])
        for ids, sign in ((alt, 1.0), (ref, -1.0))
    ]
    return SEQUENCE_LLR, queries


def run_queries(model, queries: list[Query], n_alleles: int, batch_size: int) -> np.ndarray:
    """Sum of each allele's terms. Queries batch by token length: no padding, so the scores
    are the same for models that cannot mask it (and for any batch size)."""
    scores = np.zeros(n_alleles)
    by_length: dict[int, list[Query]] = {}
    for query in queries:
        by_length.setdefault(len(query.ids), []).append(query)
    device = next(model.parameters()).device
    with torch.no_grad():
        for group in by_length.values():
            for start in range(0, len(group), batch_size):
                batch = group[start : start + batch_size]
                ids = torch.as_tensor(np.stack([q.ids for q in batch]), device=device)
                logits = model(input_ids=ids).logits.float()
                log_probs = torch.log_softmax(logits, dim=-1).cpu().numpy()
                for row, query in enumerate(batch):
                    for position, token, sign in query.terms:
                        scores[query.allele] += sign * log_probs[row, position, token]
    return scores


def zero_shot_scores(
    model, tokenizer, objective: str, ref_windows, alt_windows, max_tokens: int, batch_size: int
) -> tuple[np.ndarray, list[str]]:
    """(log-likelihood ratios, method of each) of alt vs ref windows under a pre-training head."""
    refs = tokenizer.encode_ids(list(ref_windows))
    alts = tokenizer.encode_ids(list(alt_windows))
    longest = max((len(ids) for ids in refs + alts), default=0)
    if longest > max_tokens:
        raise ValueError(
            f"a variant window takes {longest} tokens, more than the model's {max_tokens}; "
            "lower apply.variants.window"
        )
    queries, methods = [], []
    mask_id = tokenizer.hf.mask_token_id
    for allele, (ref, alt) in enumerate(zip(refs, alts, strict=True)):
        if objective == "mlm":
            method, qs = masked_queries(allele, ref.astype(np.int64), alt.astype(np.int64), mask_id)
        else:
            method, qs = causal_queries(allele, ref.astype(np.int64), alt.astype(np.int64))
        methods.append(method)
        queries += qs
    logger.info("%d alleles: %d forward passes (%s)", len(refs), len(queries), objective)
    return run_queries(model, queries, len(refs), batch_size), methods
