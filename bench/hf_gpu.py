"""The HF handler's batched path in process (no Java): audio-seconds per second at batch 1..64.

Builds an MMS-TTS-sized VitsModel (transformers' default VitsConfig, ~36M parameters) at random
initialisation: nothing is downloaded. A random duration predictor makes near-silent, very
short audio, so `speaking_rate` is calibrated until the model emits about 65 ms of audio per
character, the pace of real MMS-TTS English narration; figures are then comparable in scale.
    python bench/hf_gpu.py --device cuda [--fp16] [--batches 1 8 32 64]
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
from ts.context import Context, RequestProcessor

from handlers.hf_tts import HFTextToSpeechHandler

SENTENCES = [
    "the quick brown fox jumps over the lazy dog.",
    "please call me back when you get home tonight.",
    "we walked along the river until the sun went down.",
    "she opened the window and looked at the garden.",
    "the train to the city leaves every morning at eight.",
    "our team finished the project two weeks ahead of schedule.",
    "remember to bring a warm coat, because the evenings are cold.",
    "after dinner, we sat by the fire and told old stories.",
]
TARGET_S_PER_CHAR = 0.065


def build_model(folder: Path) -> None:
    from transformers import VitsConfig, VitsModel, VitsTokenizer

    chars = list(" abcdefghijklmnopqrstuvwxyz'.,?!-")
    vocab = {"<pad>": 0, **{c: i + 1 for i, c in enumerate(chars)}, "<unk>": len(chars) + 1}
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    VitsTokenizer(str(folder / "vocab.json"), phonemize=False).save_pretrained(folder)
    torch.manual_seed(0)
    VitsModel(VitsConfig(vocab_size=len(vocab))).save_pretrained(folder)


class _HandlerTimes:
    """What a TorchServe worker's metrics cache takes from BaseHandler.handle (HandlerTime)."""

    def add_time(self, name: str, value: float, idx: object = None, unit: str = "ms") -> None:
        pass


def load_handler(folder: Path, device: str, fp16: bool) -> HFTextToSpeechHandler:
    """The real handler, initialised with a TorchServe Context as a worker would."""
    gpu = 0 if device == "cuda" else None
    config = {"minWorkers": 1, "handler": {"fp16": fp16, "max_chars": 400}}
    manifest = {"model": {"modelName": "bench", "modelVersion": "1.0"}}
    context = Context("bench", str(folder), manifest, 64, gpu, "0.12.0", model_yaml_config=config)
    context.metrics = _HandlerTimes()
    handler = HFTextToSpeechHandler()
    handler.initialize(context)
    return handler


def run_batch(handler: HFTextToSpeechHandler, texts: list[str], rate: float) -> tuple[float, float]:
    """One handle() call; returns (audio seconds, wall seconds)."""
    context = handler.context or Context("bench", "", {}, len(texts), None, "0.12.0")
    context.metrics = context.metrics or _HandlerTimes()
    context.request_processor = [RequestProcessor({}) for _ in texts]
    rows = [{"body": {"text": text, "speaking_rate": rate}} for text in texts]
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    outputs = handler.handle(rows, context)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    wall = time.perf_counter() - start
    failed = [i for i in range(len(texts)) if context.get_response_status(i)[0] not in (None, 200)]
    if failed:
        raise SystemExit(f"items failed: {[context.get_response_status(i) for i in failed]}")
    audio = sum((len(wav) - 44) / 2 / handler.tts.sample_rate for wav in outputs)
    return audio, wall


def calibrate(handler: HFTextToSpeechHandler) -> float:
    """speaking_rate that yields about TARGET_S_PER_CHAR seconds of audio per character."""
    audio, _ = run_batch(handler, SENTENCES, 1.0)
    per_char = audio / sum(len(s) for s in SENTENCES)
    return max(0.1, min(5.0, per_char / TARGET_S_PER_CHAR))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--fp16", action="store_true", help="also measure fp16 (GPU only)")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per batch size")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda asked for, but torch sees no CUDA device")

    precisions = [False, True] if args.fp16 and args.device == "cuda" else [False]
    rows = []
    with tempfile.TemporaryDirectory(prefix="voxflow-hf-bench-") as tmp:
        folder = Path(tmp)
        build_model(folder)
        for fp16 in precisions:
            try:
                handler = load_handler(folder, args.device, fp16)
                rate = calibrate(handler)
            except (RuntimeError, SystemExit) as error:
                rows.append((fp16, 0, None, None, str(error).splitlines()[0][:60]))
                continue
            for batch in args.batches:
                texts = [SENTENCES[i % len(SENTENCES)] for i in range(batch)]
                try:
                    run_batch(handler, texts, rate)  # warm-up (cuDNN algorithm choice)
                    runs = [run_batch(handler, texts, rate) for _ in range(args.repeats)]
                except (RuntimeError, SystemExit) as error:
                    rows.append((fp16, batch, None, None, str(error).splitlines()[0][:60]))
                    continue
                audio = sum(r[0] for r in runs)
                wall = sum(r[1] for r in runs)
                rows.append((fp16, batch, audio, wall, ""))
            del handler
            if args.device == "cuda":
                torch.cuda.empty_cache()

    name = torch.cuda.get_device_name(0) if args.device == "cuda" else "CPU"
    parameters = "MMS-TTS-sized VitsModel (default VitsConfig), random init"
    print(f"\ncommand: python {shlex.join(sys.argv)}")
    print(f"device: {name}; torch {torch.__version__}; {parameters}")
    print(
        f"speaking_rate calibrated to ~{TARGET_S_PER_CHAR * 1000:.0f} ms of audio per character\n"
    )
    print("| dtype | batch | audio s | wall s | audio s / wall s | ms per batch |")
    print("|-------|-------|---------|--------|------------------|--------------|")
    for fp16, batch, audio, wall, error in rows:
        dtype = "fp16" if fp16 else "fp32"
        if audio is None:
            print(f"| {dtype} | {batch:5d} | failed: {error} |")
            continue
        per_batch = 1000 * wall / args.repeats
        print(
            f"| {dtype}  | {batch:5d} | {audio:7.1f} | {wall:6.2f} | {audio / wall:16.1f} |"
            f" {per_batch:12.1f} |"
        )


if __name__ == "__main__":
    main()
