"""Batched text-to-waveform synthesis with a transformers model, usable without TorchServe."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForTextToWaveform, AutoTokenizer

# VitsModel reads these as attributes at forward time, so callers group a batch by their values.
MODEL_ATTRIBUTES = ("speaking_rate", "noise_scale", "noise_scale_duration")


class Float32Island(torch.nn.Module):
    """Runs one submodule in fp32 inside a half-precision model, casting at its borders."""

    def __init__(self, module: torch.nn.Module, outer_dtype: torch.dtype) -> None:
        super().__init__()
        self.module = module.float()
        self.outer_dtype = outer_dtype

    def forward(self, *args, **kwargs):
        def widen(value):
            is_float = torch.is_tensor(value) and value.is_floating_point()
            return value.float() if is_float else value

        output = self.module(*map(widen, args), **{k: widen(v) for k, v in kwargs.items()})
        return output.to(self.outer_dtype) if torch.is_tensor(output) else output


class TextToWaveform:
    """The model, tokenizer and batched synthesis, usable in process without TorchServe."""

    def __init__(
        self, model_dir: str | Path, *, device: str = "cpu", fp16: bool = False, threads: int = 0
    ) -> None:
        if threads and device == "cpu":
            torch.set_num_threads(threads)
        self.device = torch.device(device)
        dtype = torch.float16 if fp16 and self.device.type == "cuda" else torch.float32
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.model = AutoModelForTextToWaveform.from_pretrained(model_dir)
        self.model.to(device=self.device, dtype=dtype).eval()
        if dtype == torch.float16 and hasattr(self.model, "duration_predictor"):
            # VITS' stochastic duration predictor (a rational-quadratic spline flow) overflows
            # in fp16 at larger batches ("Discriminant has negative values"): keep it in fp32.
            self.model.duration_predictor = Float32Island(self.model.duration_predictor, dtype)
        self.sample_rate = int(getattr(self.model.config, "sampling_rate", 16000))

    @torch.inference_mode()
    def synthesize(
        self, texts: list[str], params: Mapping[str, float] | None = None
    ) -> list[np.ndarray]:
        """Pad the texts, run the model once, cut each waveform to its own length."""
        defaults = {
            name: getattr(self.model, name)
            for name in MODEL_ATTRIBUTES
            if hasattr(self.model, name)
        }
        for name, value in (params or {}).items():
            if name in defaults:
                setattr(self.model, name, value)
        try:
            inputs = self.tokenizer(texts, return_tensors="pt", padding=True).to(self.device)
            output = self.model(**inputs)
        finally:
            for name, value in defaults.items():
                setattr(self.model, name, value)
        waveform = output.waveform.float().cpu().numpy()
        lengths = getattr(output, "sequence_lengths", None)
        if lengths is None:  # models without per-item lengths: the whole (padded) waveform
            return [row for row in waveform]
        lengths = lengths.cpu().tolist()
        return [row[: int(length)] for row, length in zip(waveform, lengths, strict=True)]
