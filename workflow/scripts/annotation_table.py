"""Convert a GFF3, GTF or BED annotation to the sorted annotation.parquet table."""

from dnatune.genome.annotation import write_annotation_table
from dnatune.logs import setup_logging

setup_logging(snakemake.log[0])
write_annotation_table(
    snakemake.input.annotation,
    snakemake.output[0],
    fmt=snakemake.params.format,
    fai=snakemake.input.fai,
    display=snakemake.params.display,
)
