"""Voxflow's web app: start conversions, watch them live, listen, replay failed chapters."""

from web.app import create_app

__all__ = ["create_app"]
