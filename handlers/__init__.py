"""TorchServe custom handlers: run inside TorchServe's Python workers; never import voxflow."""
