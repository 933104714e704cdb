"""Evaluation: metrics (metrics.py), judges (judges.py), membership inference (mia.py)."""
