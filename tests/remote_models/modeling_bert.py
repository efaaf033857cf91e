"""GENA-LM pattern: a remote pre-layer-norm BERT whose auto_map names `AutoModel` only.

Reproduced behaviours (facts read from GENA-LM's hub repositories and README, code
written here):
- config.json is a plain BERT config (model_type "bert", transformers' BertConfig, no
  AutoConfig entry) whose `auto_map` names only `AutoModel`, into `modeling_bert`; the
  module defines the other heads itself (`BertForMaskedLM`,
  `BertForSequenceClassification`), which its README fetches through
  `model.__class__.__module__`;
- transformers' `AutoModelForSequenceClassification` / `AutoModelForMaskedLM` therefore
  build the native post-layer-norm BERT for it, whose parameter names match all but the
  final `encoder.LayerNorm` of this pre-layer-norm one: its weights load into the wrong
  architecture with only a warning;
- native BERT parameter names otherwise (`attention.self.query`, `bert.pooler`, ...).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from transformers import BertConfig, PreTrainedModel
from transformers.modeling_outputs import MaskedLMOutput, SequenceClassifierOutput


class BertEmbeddings(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, input_ids, token_type_ids):
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        return self.LayerNorm(
            self.word_embeddings(input_ids)
            + self.position_embeddings(positions)[None]
            + self.token_type_embeddings(token_type_ids)
        )


class BertSelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.heads = config.num_attention_heads
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, hidden, pad_bias):
        batch, length, width = hidden.shape

        def heads(x):
            return x.view(batch, length, self.heads, -1).transpose(1, 2)

        q, k, v = heads(self.query(hidden)), heads(self.key(hidden)), heads(self.value(hidden))
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]) + pad_bias
        return (scores.softmax(-1) @ v).transpose(1, 2).reshape(batch, length, width)


class BertSublayerOutput(nn.Module):
    """`dense` and `LayerNorm`, the names of BERT's attention and feed-forward outputs."""

    def __init__(self, config, width_in):
        super().__init__()
        self.dense = nn.Linear(width_in, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)


class BertAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.self = BertSelfAttention(config)
        self.output = BertSublayerOutput(config, config.hidden_size)

    def forward(self, hidden, pad_bias):  # pre-layer-norm: normalise, attend, add
        return hidden + self.output.dense(self.self(self.output.LayerNorm(hidden), pad_bias))


class BertIntermediate(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)


class BertLayer(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.attention = BertAttention(config)
        self.intermediate = BertIntermediate(config)
        self.output = BertSublayerOutput(config, config.intermediate_size)

    def forward(self, hidden, pad_bias):
        hidden = self.attention(hidden, pad_bias)
        inner = nn.functional.gelu(self.intermediate.dense(self.output.LayerNorm(hidden)))
        return hidden + self.output.dense(inner)


class BertEncoder(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.layer = nn.ModuleList(BertLayer(config) for _ in range(config.num_hidden_layers))
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)  # pre-LN

    def forward(self, hidden, pad_bias):
        for layer in self.layer:
            hidden = layer(hidden, pad_bias)
        return self.LayerNorm(hidden)


class BertPooler(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, hidden):
        return torch.tanh(self.dense(hidden[:, 0]))


class BertPreTrainedModel(PreTrainedModel):
    config_class = BertConfig
    base_model_prefix = "bert"

    def _init_weights(self, module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
            if getattr(module, "bias", None) is not None:
                nn.init.zeros_(module.bias)


class BertModel(BertPreTrainedModel):
    def __init__(self, config, add_pooling_layer=True):
        super().__init__(config)
        self.embeddings = BertEmbeddings(config)
        self.encoder = BertEncoder(config)
        self.pooler = BertPooler(config) if add_pooling_layer else None
        self.post_init()

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, **kwargs):
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        hidden = self.embeddings(input_ids, token_type_ids)
        pad_bias = (1.0 - attention_mask[:, None, None, :].to(hidden.dtype)) * -1e4
        hidden = self.encoder(hidden, pad_bias)
        return hidden, (self.pooler(hidden) if self.pooler is not None else None)


class BertLMPredictions(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size)


class BertOnlyMLMHead(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.predictions = BertLMPredictions(config)


class BertForMaskedLM(BertPreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.bert = BertModel(config, add_pooling_layer=False)
        self.cls = BertOnlyMLMHead(config)
        self.post_init()

    def forward(
        self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None, **kwargs
    ):
        hidden, _ = self.bert(input_ids, attention_mask, token_type_ids)
        logits = self.cls.predictions.decoder(hidden)
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.flatten(0, 1), labels.flatten())
        return MaskedLMOutput(loss=loss, logits=logits)


class BertForSequenceClassification(BertPreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.bert = BertModel(config)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(
        self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None, **kwargs
    ):
        _, pooled = self.bert(input_ids, attention_mask, token_type_ids)
        logits = self.classifier(pooled)
        loss = None
        if labels is not None:
            if self.config.problem_type == "regression":
                loss = nn.functional.mse_loss(logits.squeeze(-1), labels.to(logits.dtype))
            elif self.config.problem_type == "multi_label_classification":
                loss = nn.functional.binary_cross_entropy_with_logits(
                    logits, labels.to(logits.dtype)
                )
            else:
                loss = nn.functional.cross_entropy(logits, labels)
        return SequenceClassifierOutput(loss=loss, logits=logits)
