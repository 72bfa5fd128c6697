"""Temporal activities: thin adapters from workflow calls to the voxflow kernel."""
