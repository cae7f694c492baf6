"""Deterministic stand-ins for public datasets, generated locally (nothing is downloaded)."""
