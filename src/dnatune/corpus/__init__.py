"""The pre-training corpus: genome windows with a leak-free split, tokenizers, token shards."""
