"""Evaluation: one cell's test metrics, the grid's summary.tsv, and readers of what cells wrote."""
