"""The ACX audiobook checks on a finished chapter file, with a plain-language problem list."""

from __future__ import annotations

from dataclasses import dataclass, field

from voxflow.audio.loudness import Levels

RMS_RANGE_DB = (-23.0, -18.0)
PEAK_MAX_DB = -3.0
NOISE_FLOOR_MAX_DB = -60.0
HEAD_RANGE_S = (0.5, 1.0)
TAIL_RANGE_S = (1.0, 5.0)
MAX_DURATION_S = 120 * 60.0
MP3_SAMPLE_RATE = 44100
MP3_MIN_BITRATE = 192_000


@dataclass(slots=True)
class AcxReport:
    """Levels of what was encoded: the stream into the encoder where the codec keeps its peaks
    (MP3, WAV), else the encoded file decoded again."""

    rms_db: float
    peak_db: float
    true_peak_db: float
    noise_floor_db: float
    head_s: float
    tail_s: float
    duration_s: float
    sample_rate: int
    bit_rate: int | None
    format: str
    problems: list[str] = field(default_factory=list)
    passed: bool = field(init=False)

    def __post_init__(self) -> None:
        self.passed = not self.problems


def check_acx(levels: Levels, fmt: str, sample_rate: int, bit_rate: int | None) -> AcxReport:
    """Level checks apply to every format; sample rate and bitrate only to MP3 (what ACX takes)."""
    problems: list[str] = []
    lo, hi = RMS_RANGE_DB
    if not lo <= levels.rms_db <= hi:
        problems.append(f"RMS {levels.rms_db:.1f} dB outside {lo:.0f}…{hi:.0f} dB")
    if levels.peak_db > PEAK_MAX_DB:
        problems.append(f"peak {levels.peak_db:.1f} dB above {PEAK_MAX_DB:.0f} dB")
    if levels.noise_floor_db > NOISE_FLOOR_MAX_DB:
        problems.append(
            f"noise floor {levels.noise_floor_db:.1f} dB above {NOISE_FLOOR_MAX_DB:.0f} dB"
        )
    if not HEAD_RANGE_S[0] <= levels.head_s <= HEAD_RANGE_S[1]:
        problems.append(f"head room tone {levels.head_s:.2f} s outside 0.5…1 s")
    if not TAIL_RANGE_S[0] <= levels.tail_s <= TAIL_RANGE_S[1]:
        problems.append(f"tail room tone {levels.tail_s:.2f} s outside 1…5 s")
    if levels.duration_s > MAX_DURATION_S:
        problems.append(f"duration {levels.duration_s / 60:.1f} min above 120 min")
    if fmt == "mp3":
        if sample_rate != MP3_SAMPLE_RATE:
            problems.append(f"sample rate {sample_rate} Hz, ACX wants 44100 Hz")
        if bit_rate is None or bit_rate < MP3_MIN_BITRATE:
            problems.append(f"bitrate {bit_rate} bit/s below 192 kbps")
    return AcxReport(
        rms_db=levels.rms_db,
        peak_db=levels.peak_db,
        true_peak_db=levels.true_peak_db,
        noise_floor_db=levels.noise_floor_db,
        head_s=levels.head_s,
        tail_s=levels.tail_s,
        duration_s=levels.duration_s,
        sample_rate=sample_rate,
        bit_rate=bit_rate,
        format=fmt,
        problems=problems,
    )
