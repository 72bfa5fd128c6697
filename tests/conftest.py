"""Shared pytest setup: service fixtures live in tests/plugins/."""

pytest_plugins = [
    "tests.plugins.services",
    "tests.plugins.torchserve",
    "tests.plugins.temporal",
    "tests.plugins.queue",
    "tests.plugins.oci_endpoint",
]
