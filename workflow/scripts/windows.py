"""Cut a genome into windows.parquet (chrom, start, end, strand, split)."""

from dnatune.corpus.windows import make_windows
from dnatune.logs import setup_logging

setup_logging(snakemake.log[0])
make_windows(snakemake.input.genome, snakemake.output[0], dict(snakemake.params.settings))
