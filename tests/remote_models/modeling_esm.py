"""Nucleotide Transformer v2 pattern: a plain remote-code masked LM, module modeling_esm.

NT v2 ships its own modelling code for an encoder that transformers' stock ESM
classes would load differently; for dnatune it is an ordinary remote masked LM,
which this module is (code written here; facts from NT v2's modeling_esm.py):
model_type "esm", rotary position embeddings, `query` / `key` / `value` attention
projections, a gated feed-forward without biases (`intermediate.dense` ->
2 x intermediate, `output.dense`), an `lm_head` and a `classifier` (dense +
out_proj) reading the first token. Its auto_map names the config, the masked LM
and the sequence classifier.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from transformers import PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import MaskedLMOutput, SequenceClassifierOutput


class RotaryMlmConfig(PretrainedConfig):
    model_type = "esm"

    def __init__(
        self,
        vocab_size=64,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        pad_token_id=1,
        **kwargs,
    ):
        kwargs.setdefault("tie_word_embeddings", False)
        super().__init__(pad_token_id=pad_token_id, **kwargs)
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size


def rotate(x, positions):
    half = x.shape[-1] // 2
    freqs = 1.0 / (10000 ** (torch.arange(half, device=x.device, dtype=x.dtype) / half))
    angles = positions[:, None].to(x.dtype) * freqs[None]
    cos, sin = angles.cos(), angles.sin()
    first, second = x[..., :half], x[..., half:]
    return torch.cat([first * cos - second * sin, first * sin + second * cos], dim=-1)


class SelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.heads = config.num_attention_heads
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, hidden, pad_bias):
        batch, length, width = hidden.shape

        def heads(x):
            return x.view(batch, length, self.heads, -1).transpose(1, 2)

        positions = torch.arange(length, device=hidden.device)
        q = rotate(heads(self.query(hidden)), positions)
        k = rotate(heads(self.key(hidden)), positions)
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]) + pad_bias
        context = (scores.softmax(-1) @ heads(self.value(hidden))).transpose(1, 2)
        return self.dense(context.reshape(batch, length, width))


class Intermediate(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, 2 * config.intermediate_size, bias=False)

    def forward(self, hidden):
        gate, value = self.dense(hidden).chunk(2, dim=-1)
        return nn.functional.silu(gate) * value


class Layer(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.attention_norm = nn.LayerNorm(config.hidden_size)
        self.attention = SelfAttention(config)
        self.ffn_norm = nn.LayerNorm(config.hidden_size)
        self.intermediate = Intermediate(config)
        self.output = nn.Linear(config.intermediate_size, config.hidden_size, bias=False)

    def forward(self, hidden, pad_bias):
        hidden = hidden + self.attention(self.attention_norm(hidden), pad_bias)
        return hidden + self.output(self.intermediate(self.ffn_norm(hidden)))


class RotaryMlmPreTrainedModel(PreTrainedModel):
    config_class = RotaryMlmConfig
    base_model_prefix = "encoder_model"

    def _init_weights(self, module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
            if getattr(module, "bias", None) is not None:
                nn.init.zeros_(module.bias)


class RotaryMlmModel(RotaryMlmPreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.embeddings = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layer = nn.ModuleList(Layer(config) for _ in range(config.num_hidden_layers))
        self.norm = nn.LayerNorm(config.hidden_size)
        self.post_init()

    def forward(self, input_ids, attention_mask=None, **kwargs):
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        hidden = self.embeddings(input_ids)
        pad_bias = (1.0 - attention_mask[:, None, None, :].to(hidden.dtype)) * -1e4
        for layer in self.layer:
            hidden = layer(hidden, pad_bias)
        return self.norm(hidden)


class RotaryMlmForMaskedLM(RotaryMlmPreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.encoder_model = RotaryMlmModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, labels=None, **kwargs):
        logits = self.lm_head(self.encoder_model(input_ids, attention_mask))
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.flatten(0, 1), labels.flatten())
        return MaskedLMOutput(loss=loss, logits=logits)


class ClassificationHead(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.out_proj = nn.Linear(config.hidden_size, config.num_labels)

    def forward(self, hidden):
        return self.out_proj(torch.tanh(self.dense(hidden[:, 0])))


class RotaryMlmForSequenceClassification(RotaryMlmPreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.encoder_model = RotaryMlmModel(config)
        self.classifier = ClassificationHead(config)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, labels=None, **kwargs):
        logits = self.classifier(self.encoder_model(input_ids, attention_mask))
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
