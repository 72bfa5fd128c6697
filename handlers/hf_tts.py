"""TorchServe handler for Hugging Face text-to-waveform models (VitsModel, MMS-TTS).

True batching: the batch is padded and run in one forward pass.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch

try:  # inside a .mar the archive's files sit flat on sys.path
    import voice_common as common
    from hf_model import TextToWaveform
except ModuleNotFoundError:  # imported from the repository (tests, benchmarks)
    from handlers import voice_common as common
    from handlers.hf_model import TextToWaveform

logger = logging.getLogger(__name__)

DEFAULT_MAX_CHARS = 400

# Per-request parameters; hf_model.MODEL_ATTRIBUTES are set on the model for each group.
PARAM_SPECS = {
    "speaking_rate": common.ParamSpec(0.1, 5.0, aliases=("length_scale",)),
    "noise_scale": common.ParamSpec(0.0, 2.0),
    "noise_scale_duration": common.ParamSpec(0.0, 2.0, aliases=("noise_w",)),
}


class HFTextToSpeechHandler(common.VoiceHandler):
    """Serves a transformers text-to-waveform model with true batching and per-item errors."""

    def initialize(self, context: Any) -> None:
        properties = context.system_properties
        settings = common.handler_config(context)
        gpu_id = properties.get("gpu_id")
        device = f"cuda:{gpu_id}" if gpu_id is not None and torch.cuda.is_available() else "cpu"
        workers = int((context.model_yaml_config or {}).get("minWorkers", 1))
        threads = int(settings.get("threads") or common.cpu_threads(workers))
        self.tts = TextToWaveform(
            properties["model_dir"], device=device, fp16=bool(settings.get("fp16")), threads=threads
        )
        self.max_chars = int(settings.get("max_chars", DEFAULT_MAX_CHARS))
        self.specs = PARAM_SPECS
        self.sample_rate = self.tts.sample_rate
        self.version = common.model_version(context)
        self.initialized = True
        logger.info("hf tts loaded on %s (fp16=%s)", device, settings.get("fp16", False))

    def inference(self, requests: list[common.TTSRequest], *args: Any, **kwargs: Any) -> list[Any]:
        """One forward per distinct parameter set (usually one for the whole batch)."""
        outputs: list[np.ndarray | Exception] = [RuntimeError("not synthesised")] * len(requests)
        groups: dict[tuple, list[int]] = {}
        for idx, request in enumerate(requests):
            groups.setdefault(tuple(sorted(request.params.items())), []).append(idx)
        for key, indices in groups.items():
            try:
                audio = self.tts.synthesize([requests[i].text for i in indices], dict(key))
            except Exception as error:  # the group fails, other groups still succeed
                logger.exception("hf synthesis failed")
                audio = [error] * len(indices)
            for i, item in zip(indices, audio, strict=True):
                outputs[i] = item
        return outputs
