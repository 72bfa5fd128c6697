"""Voxflow: turn whole documents into narrated audio."""

__version__ = "0.1.0"
