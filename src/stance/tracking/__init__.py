"""Tracking: the MLflow store, logging runs, reading them back, loading logged models."""
