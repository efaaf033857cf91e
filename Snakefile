# dnatune: transfer learning with DNA language models, from raw genome to report.
# Run `make demo` for the embedded default, or see README.md.
from snakemake.utils import min_version

min_version("9.0")

# The embedded default, unless the user gives config files of their own: those
# replace it rather than being merged into the demo's genomes, models and tasks.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/genome.smk"
include: "workflow/rules/windows.smk"
include: "workflow/rules/tokenize.smk"
include: "workflow/rules/pretrain.smk"
include: "workflow/rules/tasks.smk"
include: "workflow/rules/finetune.smk"
include: "workflow/rules/baselines.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/apply.smk"
include: "workflow/rules/stats.smk"
include: "workflow/rules/variants.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        all_targets(),
        variant_targets(),
        apply_targets(),
