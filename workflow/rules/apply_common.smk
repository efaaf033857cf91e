# Paths, settings and input functions of the apply stage (rules in apply.smk).
from dnatune.apply.cells import (
    apply_block,
    base_model_dir,
    cell_model_dir,
    check_apply,
    selected_cells,
)
from dnatune.apply.validation import validated_cells

with naming_source(CONFIG_SOURCE):
    check_apply(config)
APPLY = apply_block(config)
TRACKS = APPLY.get("tracks", {})
EMBEDDINGS = APPLY.get("embeddings", {})
APPLY_PLAN = "results/apply/plans/{genome}.tsv"
TRACK_CHUNK = f"results/apply/chunks/tracks/{CELL}/{{genome}}/{{chunk}}.parquet"
TRACK_DIR = f"results/apply/tracks/{CELL}/{{genome}}"
TRACK_VALIDATION = "results/apply/validation/tracks.tsv"
TRACK_FIGURE = "results/apply/validation/track_region.png"
EMBED_TASK = "results/apply/embeddings/{model}/tasks/{task}.parquet"
EMBED_CHUNK = "results/apply/chunks/embeddings/{model}/{genome}/{chunk}.parquet"
EMBED_GENOME = "results/apply/embeddings/{model}/genomes/{genome}.parquet"
SPLITS = ("train", "val", "test")
APPLY_THREADS = (
    1  # CPU scoring of tiny models; give big ones --set-threads track_chunk=N
)


def _cell_paths(pattern, cell, **extra):
    return pattern.format(
        task=cell.task,
        model=cell.model,
        variant=cell.variant,
        fraction=cell.fraction,
        seed=cell.seed,
        **extra,
    )


def apply_targets():
    """Tracks of every applied cell on every track genome, their validation, embeddings."""
    targets = [
        _cell_paths(TRACK_DIR, cell, genome=genome)
        for cell in selected_cells(config)
        for genome in TRACKS.get("genomes", [])
    ]
    if validated_cells(config):
        targets += [TRACK_VALIDATION, TRACK_FIGURE]
    for model in APPLY.get("models", []) if EMBEDDINGS else []:
        targets += [
            EMBED_TASK.format(model=model, task=t) for t in EMBEDDINGS.get("tasks", [])
        ]
        targets += [
            EMBED_GENOME.format(model=model, genome=g)
            for g in EMBEDDINGS.get("genomes", [])
        ]
    return targets


def plan_inputs(wildcards):
    """The genome's index, and the BED file of apply.tracks.regions when it is one."""
    files = {"fai": GENOME_FAI.format(genome=wildcards.genome)}
    if (
        isinstance(TRACKS.get("regions", "all"), str)
        and TRACKS.get("regions", "all") != "all"
    ):
        files["regions"] = TRACKS["regions"]
    return files


def _plan_chunks(genome):
    import pandas as pd

    plan = checkpoints.track_plan.get(genome=genome).output[0]
    return pd.read_csv(plan, sep="\t")["chunk"].tolist()


def track_chunk_files(wildcards):
    return [
        TRACK_CHUNK.format(**wildcards, chunk=chunk)
        for chunk in _plan_chunks(wildcards.genome)
    ]


def embed_chunk_files(wildcards):
    return [
        EMBED_CHUNK.format(**wildcards, chunk=chunk)
        for chunk in _plan_chunks(wildcards.genome)
    ]


def track_settings(wildcards):
    """What a chunk's scores depend on besides its inputs (regions and chunks: the plan's)."""
    return {
        "window": TRACKS.get("window"),
        "stride": TRACKS.get("stride"),
        "both_strands": TRACKS.get("both_strands", True),
        "batch_size": TRACKS.get("batch_size", 64),
        "trust_remote_code": bool(_model(wildcards).get("trust_remote_code", False)),
    }


def track_title(wildcards):
    return f"{wildcards.task} {wildcards.model} {wildcards.variant} f{wildcards.fraction} s{wildcards.seed}"


def embed_settings(wildcards):
    return {
        "layer": EMBEDDINGS.get("layer", -1),
        "pooling": EMBEDDINGS.get("pooling", "mean"),
        "batch_size": EMBEDDINGS.get("batch_size", 64),
        "trust_remote_code": bool(_model(wildcards).get("trust_remote_code", False)),
    }


def apply_base_model(wildcards):
    return base_model_dir(config, wildcards.model)


def _validation_entries():
    entries = []
    for found in validated_cells(config):
        cell = found["cell"]
        track = _cell_paths(TRACK_DIR, cell, genome=found["genome"])
        entries.append(
            {
                "task": cell.task,
                "model": cell.model,
                "variant": cell.variant,
                "label_fraction": float(cell.fraction),
                "seed": cell.seed,
                "genome": found["genome"],
                "feature": found["feature"],
                "track_dir": track,
                "task_dir": TASK_DIR.format(task=cell.task),
                "annotation": ANNOTATION.format(genome=found["genome"]),
            }
        )
    return entries


def validation_inputs(wildcards):
    entries = _validation_entries()
    return {
        "tracks": sorted({e["track_dir"] for e in entries}),
        "annotations": sorted({e["annotation"] for e in entries}),
        "tasks": sorted(
            {f"{e['task_dir']}/{split}.parquet" for e in entries for split in SPLITS}
        ),
    }


def report_track_validation(wildcards):
    return [TRACK_VALIDATION, TRACK_FIGURE] if validated_cells(config) else []
