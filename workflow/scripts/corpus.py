"""Tokenize a genome's windows into the corpus shards and stats.json of CORPUS_DIR."""

from dnatune.corpus.shards import build_corpus
from dnatune.logs import setup_logging

setup_logging(snakemake.log[0])
build_corpus(
    snakemake.input.genome,
    snakemake.input.windows,
    snakemake.input.tokenizer,
    snakemake.output[0],
    shard_windows=snakemake.params.shard_windows,
    shard_format=snakemake.params.shard_format,
)
