"""`python -m voxflow` is the `voxflow` console script (used to spawn worker processes)."""

from voxflow.cli import main

main()
