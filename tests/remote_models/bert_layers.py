"""DNABERT-2 pattern: a remote-code BERT with ALiBi attention, module bert_layers (as DNABERT-2's).

Reproduced behaviours (facts read from DNABERT-2's bert_layers.py, code written here):
- the encoder's `__init__` builds the ALiBi bias with torch ops, mixing a legacy
  `torch.Tensor(list)` (always on the CPU) with `torch.arange` (on the default device),
  so transformers 5's meta-device initialisation fails with "Tensor on device meta is
  not on the expected device cpu!" while `from_config` works;
- the module imports `einops`, a package the base install does not have;
- fused `Wqkv` attention projection, gated feed-forward (`gated_layers`, `wo`), a
  pooler and a `classifier`; no position embeddings (ALiBi only);
- model_type "bert", like the real config, though transformers' own BERT cannot load it.
"""

from __future__ import annotations

import math

import torch
from einops import rearrange
from torch import nn
from transformers import PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import MaskedLMOutput, SequenceClassifierOutput


class AlibiBertConfig(PretrainedConfig):
    model_type = "bert"

    def __init__(
        self,
        vocab_size=64,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        alibi_starting_size=128,
        hidden_dropout_prob=0.0,
        pad_token_id=3,
        **kwargs,
    ):
        super().__init__(pad_token_id=pad_token_id, **kwargs)
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.alibi_starting_size = alibi_starting_size
        self.hidden_dropout_prob = hidden_dropout_prob


def alibi_slopes(heads: int) -> list[float]:
    start = 2 ** (-8 / heads)
    return [start ** (i + 1) for i in range(heads)]


class AlibiAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.heads = config.num_attention_heads
        self.Wqkv = nn.Linear(config.hidden_size, 3 * config.hidden_size)
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, hidden, bias):
        q, k, v = rearrange(self.Wqkv(hidden), "b s (t h d) -> t b h s d", t=3, h=self.heads)
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]) + bias
        context = rearrange(scores.softmax(-1) @ v, "b h s d -> b s (h d)")
        return self.dense(context)


class GatedLayer(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.attention = AlibiAttention(config)
        self.gated_layers = nn.Linear(config.hidden_size, 2 * config.intermediate_size, bias=False)
        self.wo = nn.Linear(config.intermediate_size, config.hidden_size)
        self.norm1 = nn.LayerNorm(config.hidden_size)
        self.norm2 = nn.LayerNorm(config.hidden_size)

    def forward(self, hidden, bias):
        hidden = self.norm1(hidden + self.attention(hidden, bias))
        gate, value = self.gated_layers(hidden).chunk(2, dim=-1)
        return self.norm2(hidden + self.wo(nn.functional.gelu(gate) * value))


class AlibiEncoder(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.layer = nn.ModuleList(GatedLayer(config) for _ in range(config.num_hidden_layers))
        self.heads = config.num_attention_heads
        self.register_buffer(
            "alibi", self.build_alibi(config.alibi_starting_size), persistent=False
        )

    def build_alibi(self, size: int) -> torch.Tensor:
        positions = torch.arange(size)
        distance = (positions[None, :] - positions[:, None]).abs()
        slopes = torch.Tensor(alibi_slopes(self.heads))  # legacy constructor: always on the CPU
        return -slopes[:, None, None] * distance[None]

    def forward(self, hidden, attention_mask):
        length = hidden.shape[1]
        if length > self.alibi.shape[-1]:
            self.alibi = self.build_alibi(length).to(hidden.device)
        pad = (1.0 - attention_mask[:, None, None, :].to(hidden.dtype)) * -1e4
        bias = self.alibi[None, :, :length, :length] + pad
        for layer in self.layer:
            hidden = layer(hidden, bias)
        return hidden


class AlibiBertPreTrainedModel(PreTrainedModel):
    config_class = AlibiBertConfig
    base_model_prefix = "bert"

    def _init_weights(self, module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
            if getattr(module, "bias", None) is not None:
                nn.init.zeros_(module.bias)


class AlibiBertModel(AlibiBertPreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(2, config.hidden_size)
        self.norm = nn.LayerNorm(config.hidden_size)
        self.encoder = AlibiEncoder(config)
        self.pooler = nn.Linear(config.hidden_size, config.hidden_size)
        self.post_init()

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, **kwargs):
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        hidden = self.norm(
            self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
        )
        hidden = self.encoder(hidden, attention_mask)
        return hidden, torch.tanh(self.pooler(hidden[:, 0]))


class AlibiBertForMaskedLM(AlibiBertPreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.bert = AlibiBertModel(config)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size)
        self.post_init()

    def forward(
        self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None, **kwargs
    ):
        hidden, _ = self.bert(input_ids, attention_mask, token_type_ids)
        logits = self.decoder(hidden)
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.flatten(0, 1), labels.flatten())
        return MaskedLMOutput(loss=loss, logits=logits)


class AlibiBertForSequenceClassification(AlibiBertPreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.bert = AlibiBertModel(config)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(
        self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None, **kwargs
    ):
        _, pooled = self.bert(input_ids, attention_mask, token_type_ids)
        logits = self.classifier(pooled)
        return SequenceClassifierOutput(
            loss=classification_loss(self.config, logits, labels), logits=logits
        )


def classification_loss(config, logits, labels):
    if labels is None:
        return None
    if config.problem_type == "regression":
        return nn.functional.mse_loss(logits.squeeze(-1), labels.to(logits.dtype))
    if config.problem_type == "multi_label_classification":
        return nn.functional.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))
    return nn.functional.cross_entropy(logits, labels)
