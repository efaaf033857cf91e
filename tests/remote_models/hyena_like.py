"""HyenaDNA pattern: a remote-code causal LM over characters, loaded through `auto_map`.

Reproduced behaviours (facts read from HyenaDNA's modeling_hyena.py, code written here):
- the implicit long-convolution filter reuses ONE `Sin` activation module (with its
  learnable `freq`) twice in an `nn.Sequential`, so the state dict holds one parameter
  under two names and safetensors refuses to save it ("shared tensors");
- `forward` takes no `attention_mask` (and no **kwargs): the causal long convolution
  cannot mask, so left padding changes a sequence's outputs;
- a causal LM (`lm_head`) and a sequence classifier (`score`, reading the last position,
  which left padding makes the last real token); `in_proj` / `out_proj` linear layers;
- model_type "hyenadna"; the tokenizer is a custom class (tokenization_char.py).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from transformers import PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import CausalLMOutput, SequenceClassifierOutput


class HyenaLikeConfig(PretrainedConfig):
    model_type = "hyenadna"

    def __init__(
        self, vocab_size=12, d_model=32, n_layer=1, filter_order=16, pad_token_id=4, **kwargs
    ):
        kwargs.setdefault("tie_word_embeddings", False)
        super().__init__(pad_token_id=pad_token_id, **kwargs)
        self.vocab_size = vocab_size
        self.d_model = d_model
        self.n_layer = n_layer
        self.filter_order = filter_order


class Sin(nn.Module):
    def __init__(self, dim: int, w: float = 10.0):
        super().__init__()
        self.freq = nn.Parameter(w * torch.ones(1, dim))

    def forward(self, x):
        return torch.sin(self.freq * x)


class LongConv(nn.Module):
    """A causal convolution as long as the input, its filter made by a small MLP of positions."""

    def __init__(self, d_model: int, order: int):
        super().__init__()
        act = Sin(order)
        self.implicit_filter = nn.Sequential(
            nn.Linear(3, order), act, nn.Linear(order, order), act, nn.Linear(order, d_model)
        )
        self.bias = nn.Parameter(torch.zeros(d_model))

    def forward(self, x):  # x: (batch, length, d_model)
        length = x.shape[1]
        t = torch.linspace(0, 1, length, device=x.device)[:, None]
        z = torch.cat([t, torch.cos(2 * math.pi * t), torch.sin(2 * math.pi * t)], dim=-1)
        h = self.implicit_filter(z).transpose(0, 1)  # (d_model, length)
        n = 2 * length
        y = torch.fft.irfft(torch.fft.rfft(x.transpose(1, 2), n=n) * torch.fft.rfft(h, n=n), n=n)
        return y[..., :length].transpose(1, 2) + x * self.bias


class HyenaBlock(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.norm = nn.LayerNorm(config.d_model)
        self.in_proj = nn.Linear(config.d_model, 3 * config.d_model)
        self.filter = LongConv(config.d_model, config.filter_order)
        self.out_proj = nn.Linear(config.d_model, config.d_model)

    def forward(self, hidden):
        gate, other, value = self.in_proj(self.norm(hidden)).chunk(3, dim=-1)
        return hidden + self.out_proj(other * self.filter(gate * value))


class HyenaLikePreTrainedModel(PreTrainedModel):
    config_class = HyenaLikeConfig
    base_model_prefix = "hyena"

    def _init_weights(self, module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
            if getattr(module, "bias", None) is not None:
                nn.init.zeros_(module.bias)


class HyenaLikeModel(HyenaLikePreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.word_embeddings = nn.Embedding(config.vocab_size, config.d_model)
        self.layers = nn.ModuleList(HyenaBlock(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.d_model)
        self.post_init()

    def forward(self, input_ids, inputs_embeds=None, output_hidden_states=None, return_dict=None):
        hidden = self.word_embeddings(input_ids) if inputs_embeds is None else inputs_embeds
        for layer in self.layers:
            hidden = layer(hidden)
        return self.ln_f(hidden)


class HyenaLikeForCausalLM(HyenaLikePreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.hyena = HyenaLikeModel(config)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.post_init()

    def forward(
        self,
        input_ids=None,
        inputs_embeds=None,
        labels=None,
        output_hidden_states=None,
        return_dict=None,
    ):
        logits = self.lm_head(self.hyena(input_ids, inputs_embeds))
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(
                logits[:, :-1].flatten(0, 1), labels[:, 1:].flatten(), ignore_index=-100
            )
        return CausalLMOutput(loss=loss, logits=logits)


class HyenaLikeForSequenceClassification(HyenaLikePreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.hyena = HyenaLikeModel(config)
        self.score = nn.Linear(config.d_model, config.num_labels, bias=False)
        self.post_init()

    def forward(
        self,
        input_ids=None,
        inputs_embeds=None,
        labels=None,
        output_hidden_states=None,
        return_dict=None,
    ):
        logits = self.score(self.hyena(input_ids, inputs_embeds)[:, -1])
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
