"""The model families dnatune knows: one table of per-family defaults, and how a model is recognised.

Each concern that differs between DNA language model families is one field
here, read where it is used: the LoRA target modules and the head's modules
(finetune.py), pooling and the padding side (pooling.py, models.py), the
pre-training objective and MLM labels (pretrain.py), reverse-complement
averaging at test time (finetune.py). A family is recognised from a model's
config.json: the Python modules its `auto_map` names (remote code) first,
then its `model_type`. Module names and behaviours are read from each
family's own modelling code (see docs/models.md for the sources).

User settings win over every default here: `models.<m>.lora_target_modules`,
`finetune.lora.target_modules`, `finetune.pooling`, `finetune.rc_average`.
"""

from __future__ import annotations

from dataclasses import dataclass

# Modules a classification head is made of, for a model whose family the table does not know
GENERIC_HEAD = ("classifier", "score", "pooler")


@dataclass(frozen=True)
class Family:
    """What dnatune needs to know about one model family."""

    name: str
    model_types: tuple[str, ...] = ()
    # remote code (trust_remote_code), recognised by the module names in config.json's
    # auto_map ("bert_layers" of "bert_layers.BertModel") or by a model_type of its own
    remote: bool = False
    remote_modules: tuple[str, ...] = ()
    objective: str = "mlm"  # mlm (encoders) or clm (decoders)
    # Linear layers LoRA adapts: the attention projections (query/value, as the LoRA paper;
    # the packed qkv projection where a family has one)
    lora_targets: tuple[str, ...] = ()
    # the classification head: every module a fresh head adds on top of the backbone
    # (BERT's pooler too: masked-LM pre-training leaves it untrained)
    head: tuple[str, ...] = ("classifier",)
    # how finetune.pooling "mean" is had: "hook" (dnatune's hook puts the masked mean of
    # the token states where the head reads its first token), "config" (the family's own
    # mean pooling, switched on in its config), "native" (the head always averages),
    # "none" (a decoder: it reads its last token)
    mean_pooling: str = "hook"
    # the config key and values ("mean", "first") of a family's own pooling switch
    pooling_config: tuple[str, str, str] | None = None
    # the padding side the family's head and masking need; None keeps the tokenizer's
    padding_side: str | None = "right"
    # the label id MLM losses ignore: -100 (transformers) or the pad id (Caduceus)
    mlm_ignore_label: str = "-100"
    # average the scores of a sequence and its reverse complement at test time
    rc_average: bool = False

    def rc_average_for(self, config) -> bool:
        """Caduceus-ph is trained with RC augmentation and averaged post hoc; -ps (rcps) is
        RC-equivariant by construction, its head already averages the two strands."""
        return self.rc_average and not getattr(config, "rcps", False)


FAMILIES = (
    # BERT (native): DNABERT 3/4/5/6-mer, scratch bert
    Family(
        "bert",
        model_types=("bert",),
        lora_targets=("query", "value"),
        head=("classifier", "pooler"),
    ),
    # RoBERTa (native)
    Family(
        "roberta",
        model_types=("roberta",),
        lora_targets=("query", "value"),
        head=("classifier",),  # RobertaClassificationHead: dense + out_proj on <s>
    ),
    # ESM (native): Nucleotide Transformer v1, AgroNT, scratch esm
    Family(
        "esm",
        model_types=("esm",),
        lora_targets=("query", "value"),
        head=("classifier",),  # EsmClassificationHead: dense + out_proj on <cls>
    ),
    # Nucleotide Transformer v2 (remote ESM: rotary, gated feed-forward)
    Family(
        "nt-v2",
        remote=True,
        remote_modules=("modeling_esm",),
        lora_targets=("query", "value"),
        head=("classifier",),
    ),
    # DNABERT-2, DNABERT-S (remote BERT with ALiBi, BPE)
    Family(
        "dnabert2",
        remote=True,
        remote_modules=("bert_layers",),
        lora_targets=("Wqkv",),  # BertUnpadSelfAttention packs q, k, v in one Linear
        head=("classifier", "pooler"),
    ),
    # GENA-LM (remote pre-layer-norm BERT, BPE)
    Family(
        "gena-lm",
        remote=True,
        remote_modules=("modeling_bert",),
        lora_targets=("query", "value"),
        head=("classifier", "pooler"),
    ),
    # ModernBERT (native): ModernBERT-style DNA encoders
    Family(
        "modernbert",
        model_types=("modernbert",),
        lora_targets=("Wqkv",),
        head=("head", "classifier"),  # ModernBertPredictionHead (dense + norm), then classifier
        mean_pooling="config",
        pooling_config=("classifier_pooling", "mean", "cls"),
    ),
    # HyenaDNA (remote causal long convolutions, character tokens)
    Family(
        "hyenadna",
        remote=True,
        model_types=("hyenadna",),
        objective="clm",
        lora_targets=("in_proj", "out_proj"),  # HyenaOperator's projections
        head=("score",),
        mean_pooling="none",
        # its head reads the token before the first pad; the long convolution is causal,
        # so right padding never reaches a real token (its tokenizer pads left)
        padding_side="right",
    ),
    # Caduceus (remote bidirectional Mamba, character tokens)
    Family(
        "caduceus",
        remote=True,
        model_types=("caduceus",),
        remote_modules=("modeling_caduceus",),
        lora_targets=("in_proj", "out_proj"),  # Mamba's projections
        head=("score",),
        mean_pooling="native",  # its head averages every position, padding included
        mlm_ignore_label="pad",  # CaduceusForMaskedLM's loss ignores pad_token_id, not -100
        rc_average=True,
    ),
    # GPT-2 (native): scratch gpt2
    Family(
        "gpt2",
        model_types=("gpt2",),
        objective="clm",
        lora_targets=("c_attn",),
        head=("score",),
        mean_pooling="none",
    ),
    # Llama (native): GENERator (6-mer tokens), scratch llama
    Family(
        "llama",
        model_types=("llama",),
        objective="clm",
        lora_targets=("q_proj", "v_proj"),
        head=("score",),
        mean_pooling="none",
    ),
)


def remote_modules(config) -> set[str]:
    """The Python modules a config's auto_map points at ("repo--bert_layers.X" -> bert_layers)."""
    auto_map = getattr(config, "auto_map", None) or {}
    names = set()
    for reference in auto_map.values():
        for ref in reference if isinstance(reference, (list, tuple)) else [reference]:
            if isinstance(ref, str) and "." in ref:
                names.add(ref.split("--")[-1].rsplit(".", 1)[0])
    return names


def family_of(config) -> Family | None:
    """The family of a transformers config, or None for a model the table does not know.

    Remote code with a native model_type (DNABERT-2 and GENA-LM say "bert") is told
    apart by its auto_map modules: its layer names need not be the native ones.
    """
    modules = remote_modules(config)
    for family in FAMILIES:
        if modules & set(family.remote_modules):
            return family
    model_type = getattr(config, "model_type", None)
    for family in FAMILIES:
        if model_type in family.model_types and (family.remote or not modules):
            return family
    return None
