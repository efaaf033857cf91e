"""Training: model sources and families, loading, pre-training and fine-tuning one grid cell."""
