"""Scores: the figures of the tenant, its areas and categories over a window, scored and
kept as history (docs/scores.md)."""
