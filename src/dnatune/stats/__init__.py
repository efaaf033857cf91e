"""Statistics over the grid: transfer gains with their uncertainty, and verdicts."""
