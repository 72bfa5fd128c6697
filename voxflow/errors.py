"""User-facing errors: each carries one line that says what was wrong and what to do."""


class VoxflowError(Exception):
    """An error the user can act on; the CLI prints it as one line, the API as a 4xx."""

    exit_code = 2


class InputError(VoxflowError):
    """The document given by the user cannot be imported."""


class ConfigError(VoxflowError):
    """Settings or the model registry are wrong."""


class ServiceUnavailable(VoxflowError):
    """A service Voxflow needs (Temporal, TorchServe, broker, database) does not answer."""

    exit_code = 3
