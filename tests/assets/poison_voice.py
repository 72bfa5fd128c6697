"""A TorchServe test voice: a tone per request, but 500 for any text with "poison" in it.

It behaves until a file named by `fix_path.txt` (packed in the archive) appears: creating that
file is "fixing the model", so a replay can then succeed.
"""

import io
import json
import math
import struct
import wave
from pathlib import Path

RATE = 16000


def tone(seconds: float) -> bytes:
    frames = int(seconds * RATE)
    samples = (int(8000 * math.sin(2 * math.pi * 220 * n / RATE)) for n in range(frames))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(b"".join(struct.pack("<h", s) for s in samples))
    return buffer.getvalue()


def text_of(row: dict) -> str:
    body = row.get("data") or row.get("body") or b""
    if isinstance(body, (bytes, bytearray)):
        body = body.decode("utf-8")
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return body
    return body.get("text", "") if isinstance(body, dict) else str(body)


def handle(data, context):
    if data is None:
        return None
    model_dir = Path(context.system_properties["model_dir"])
    fixed = Path((model_dir / "fix_path.txt").read_text().strip()).exists()
    responses = []
    for index, row in enumerate(data):
        text = text_of(row)
        if "poison" in text.lower() and not fixed:
            context.set_response_status(500, "the model crashed on this text", idx=index)
            responses.append(json.dumps({"code": 500, "message": "model crashed"}))
            continue
        context.set_response_content_type(index, "audio/wav")
        responses.append(tone(0.05 * max(len(text), 4)))
    return responses
