"""The genome stage: fetch or simulate a genome and its annotation, normalise, index, and read it."""
