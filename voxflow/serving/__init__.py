"""TorchServe for Voxflow: `archives` builds the model store, `process` runs TorchServe locally."""
