"""Cut a genome into windows.parquet (chrom, start, end, strand, split)."""

from dnatune.corpus.windows import make_windows
from dnatune.logs import setup_logging
from dnatune.settings import WindowSettings

setup_logging(snakemake.log[0])
settings = WindowSettings.from_config(snakemake.params.settings)
make_windows(snakemake.input.genome, snakemake.output[0], settings)
