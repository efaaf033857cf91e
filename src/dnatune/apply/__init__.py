"""Use what was trained: genome-wide prediction tracks, embeddings (and variant effects).

cells: which fine-tuned cells and base models `apply:` names, and loading them;
tiling: sliding windows over contigs and the exact centre-keeping stitch;
regions: the genome regions asked for, in chunks (one workflow job each);
scoring: a loaded classifier as a function of sequences (both strands averaged);
tracks: a chunk's stitched scores, merged into bigWig, bedGraph and an IGV session;
embeddings: a layer's pooled hidden states to Parquet;
validation: a track scored against the annotation on held-out chromosomes.
"""
