"""HyenaDNA pattern: a custom character tokenizer class, loaded through tokenizer_config's auto_map.

Facts from HyenaDNA's CharacterTokenizer (code written here): seven special tokens
first ([CLS] [SEP] [BOS] [MASK] [PAD] [RESERVED] [UNK]), then the characters; a
sequence gets [SEP] appended and no [CLS]; padding on the left.
"""

from __future__ import annotations

import json
import os

from transformers import PreTrainedTokenizer

SPECIALS = ["[CLS]", "[SEP]", "[BOS]", "[MASK]", "[PAD]", "[RESERVED]", "[UNK]"]


class CharTokenizer(PreTrainedTokenizer):
    def __init__(self, characters=("A", "C", "G", "T", "N"), model_max_length=1024, **kwargs):
        self.characters = list(characters)
        self._vocab = {token: i for i, token in enumerate(SPECIALS + self.characters)}
        self._tokens = {i: token for token, i in self._vocab.items()}
        kwargs.setdefault("padding_side", "left")
        specials = {"bos": "[BOS]", "eos": "[SEP]", "sep": "[SEP]", "cls": "[CLS]"}
        specials.update(pad="[PAD]", mask="[MASK]", unk="[UNK]")
        for name, token in specials.items():  # a saved tokenizer_config.json repeats them
            kwargs.setdefault(f"{name}_token", token)
        super().__init__(model_max_length=model_max_length, **kwargs)

    @property
    def vocab_size(self) -> int:
        return len(self._vocab)

    def get_vocab(self) -> dict:
        return dict(self._vocab)

    def _tokenize(self, text: str) -> list[str]:
        return list(text)

    def _convert_token_to_id(self, token: str) -> int:
        return self._vocab.get(token, self._vocab["[UNK]"])

    def _convert_id_to_token(self, index: int) -> str:
        return self._tokens.get(index, "[UNK]")

    def build_inputs_with_special_tokens(self, token_ids_0, token_ids_1=None):
        ids = token_ids_0 + [self.sep_token_id]
        return ids if token_ids_1 is None else ids + token_ids_1 + [self.sep_token_id]

    def get_special_tokens_mask(
        self, token_ids_0, token_ids_1=None, already_has_special_tokens=False
    ):
        if already_has_special_tokens:
            return [1 if i < len(SPECIALS) else 0 for i in token_ids_0]
        mask = [0] * len(token_ids_0) + [1]
        return mask if token_ids_1 is None else mask + [0] * len(token_ids_1) + [1]

    def save_vocabulary(self, save_directory: str, filename_prefix: str | None = None):
        path = os.path.join(save_directory, (filename_prefix or "") + "char_vocab.json")
        with open(path, "w") as handle:
            json.dump(self._vocab, handle)
        return (path,)
