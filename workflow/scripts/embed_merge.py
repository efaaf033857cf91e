"""A genome's embedded chunks -> one Parquet file."""

from dnatune.apply.embeddings import concatenate_parquet
from dnatune.logs import setup_logging

setup_logging(snakemake.log[0])
concatenate_parquet(list(snakemake.input.chunks), snakemake.output[0])
