"""TorchServe handler for Piper voices (VITS exported to ONNX); a bad item fails alone."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
from piper import PiperVoice, SynthesisConfig
from piper.config import PiperConfig

try:  # inside a .mar the archive's files sit flat on sys.path
    import voice_common as common
except ModuleNotFoundError:  # imported from the repository (tests, benchmarks)
    from handlers import voice_common as common

logger = logging.getLogger(__name__)

DEFAULT_MAX_CHARS = 400


def load_voice(
    model_path: Path,
    config_path: Path,
    *,
    use_cuda: bool = False,
    threads: int = 1,
    alignments: bool = False,
) -> PiperVoice:
    """PiperVoice.load with our own session options: piper's loader cannot set thread counts.

    `alignments` exposes the graph's per-phoneme durations as an output (piper's own patch, in
    memory), from which the words' times come; the audio is computed as before."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    providers: list[Any] = ["CPUExecutionProvider"]
    if use_cuda:
        providers.insert(0, ("CUDAExecutionProvider", {"cudnn_conv_algo_search": "HEURISTIC"}))
    config = PiperConfig.from_dict(json.loads(config_path.read_text(encoding="utf-8")))
    model: str | bytes = str(model_path)
    if alignments:
        model = _with_durations(model_path)
    session = onnxruntime.InferenceSession(model, sess_options=options, providers=providers)
    return PiperVoice(session=session, config=config, download_dir=model_path.parent)


def _with_durations(model_path: Path) -> bytes:
    """The model with its phoneme durations (the w_ceil tensor) marked as a graph output."""
    import onnx
    from piper.patch_voice_with_alignment import add_alignment_output

    model = onnx.load(str(model_path))
    add_alignment_output(model)
    return model.SerializeToString()


def cuda_wanted(gpu_id: Any) -> bool:
    """CUDA only when TorchServe gave this worker a GPU and onnxruntime-gpu can use it."""
    return gpu_id is not None and "CUDAExecutionProvider" in onnxruntime.get_available_providers()


def synthesize_one(voice: PiperVoice, request: common.TTSRequest) -> common.Speech:
    """All sentences of one request, joined, as float32 in [-1, 1], with its words' times
    when the voice was loaded with alignments."""
    params = request.params
    config = SynthesisConfig(
        speaker_id=params.get("speaker_id"),
        length_scale=params.get("length_scale"),
        noise_scale=params.get("noise_scale"),
        noise_w_scale=params.get("noise_w"),
    )
    chunks = list(voice.synthesize(request.text, config, include_alignments=True))
    if not chunks:
        raise common.ItemError(400, "text has nothing to pronounce")
    audio = np.concatenate([chunk.audio_float_array for chunk in chunks])
    if any(chunk.phoneme_alignments is None for chunk in chunks):
        return common.Speech(audio)
    phonemes = [(common.WORD_GAP, 0)]  # Piper's sentences follow one another
    for chunk in chunks:
        phonemes += [(a.phoneme, int(a.num_samples)) for a in chunk.phoneme_alignments]
        phonemes.append((common.WORD_GAP, 0))
    return common.Speech(audio, common.word_times(request.text, phonemes, voice.config.sample_rate))


class PiperVoiceHandler(common.VoiceHandler):
    """Serves a Piper voice; a batch runs item by item because the ONNX graph takes one sentence."""

    def initialize(self, context: Any) -> None:
        properties = context.system_properties
        model_dir = Path(properties["model_dir"])
        settings = common.handler_config(context)
        model_path = next(model_dir.glob("*.onnx"))
        config_path = model_path.with_name(model_path.name + ".json")
        workers = int((context.model_yaml_config or {}).get("minWorkers", 1))
        use_cuda = cuda_wanted(properties.get("gpu_id"))
        threads = int(settings.get("threads") or common.cpu_threads(workers))
        self.voice = load_voice(
            model_path, config_path, use_cuda=use_cuda, threads=threads, alignments=True
        )
        self.max_chars = int(settings.get("max_chars", DEFAULT_MAX_CHARS))
        self.sample_rate = self.voice.config.sample_rate
        self.specs = param_specs(self.voice.config.num_speakers)
        self.version = common.model_version(context)
        self.initialized = True
        logger.info(
            "piper voice %s loaded: cuda=%s threads=%d max_chars=%d",
            model_path.name,
            use_cuda,
            threads,
            self.max_chars,
        )

    def inference(self, requests: list[common.TTSRequest], *args: Any, **kwargs: Any) -> list[Any]:
        """One request at a time: Piper's ONNX graph takes a single sentence."""
        outputs: list[common.Speech | Exception] = []
        for request in requests:
            try:
                outputs.append(synthesize_one(self.voice, request))
            except Exception as error:  # one bad item must not fail the batch
                logger.exception("piper synthesis failed")
                outputs.append(error)
        return outputs


def param_specs(num_speakers: int) -> dict[str, common.ParamSpec]:
    return {
        "length_scale": common.ParamSpec(0.1, 5.0),
        "noise_scale": common.ParamSpec(0.0, 2.0),
        "noise_w": common.ParamSpec(0.0, 2.0, aliases=("noise_w_scale",)),
        "speaker_id": common.ParamSpec(0, max(0, num_speakers - 1), integer=True),
    }
