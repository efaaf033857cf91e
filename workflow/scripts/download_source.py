"""Download a genome's sequence or annotation (url or NCBI accession); runs as a localrule."""

from dnatune.genome.source import fetch_source
from dnatune.logs import setup_logging

setup_logging(snakemake.log[0])
fetch_source(
    snakemake.params.source,
    snakemake.params.part,
    snakemake.output.file,
    snakemake.output.meta,
    genome=snakemake.wildcards.genome,
    retries=snakemake.params.retries,
    backoff=snakemake.params.backoff,
    timeout=snakemake.params.timeout,
)
