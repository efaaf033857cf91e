"""scores.tsv -> auroc.tsv: each score's AUROC on the truth labels, with a bootstrap CI."""

from dnatune.apply.variant_auroc import variant_auroc
from dnatune.logs import setup_logging

setup_logging(snakemake.log[0])
variant_auroc(
    snakemake.input[0],
    snakemake.params.scorers,
    snakemake.output[0],
    bootstrap=snakemake.params.bootstrap,
    confidence=snakemake.params.confidence,
    seed=snakemake.params.seed,
)
