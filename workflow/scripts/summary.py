"""Every grid cell's metrics.json (+ history.json) -> results/report/summary.tsv."""

from dnatune.evaluate.summary import write_summary
from dnatune.logs import setup_logging

setup_logging(snakemake.log[0])
write_summary(snakemake.input.metrics, snakemake.output[0], snakemake.input.histories)
