"""Use what was trained: prediction tracks, variant-effect scores and embeddings."""
