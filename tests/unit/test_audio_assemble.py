"""Chapter assembly on synthetic audio: timeline, pauses, room tone, formats, durations, errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tests.unit.test_audio_synth import RATE, bursts, read_wav, segment, speechlike, tone
from voxflow.audio import AudioError, AudioSettings, assemble_chapter, probe_duration
from voxflow.audio.probe import probe_audio_stream

MP3_FRAME_S = 1152 / 44100
# Two paragraphs: segments 0-2 in block 0, 3-4 in block 1; lengths differ so order is visible.
LENGTHS = [0.6, 0.9, 0.4, 0.7, 0.5]
BLOCKS = [0, 0, 0, 1, 1]


def _segments():
    return [
        segment(i, b, tone(length, 0.3))
        for i, (b, length) in enumerate(zip(BLOCKS, LENGTHS, strict=True))
    ]


@pytest.fixture(scope="module")
def wav_chapter(tmp_path_factory):
    settings = AudioSettings(format="wav")
    out = tmp_path_factory.mktemp("wav")
    return assemble_chapter(_segments(), out, "01-tones", settings, title="Tones"), settings


def test_segment_times_follow_the_documented_timeline(wav_chapter):
    chapter, s = wav_chapter
    times = chapter.segment_times
    assert [t.index for t in times] == [0, 1, 2, 3, 4]
    assert times[0].start_s == pytest.approx(s.head_room_tone_s, abs=1 / RATE)
    for prev, cur, length in zip(times, times[1:], LENGTHS[1:], strict=False):
        gap = cur.start_s - prev.end_s
        want = s.sentence_pause_s if cur.block_index == prev.block_index else s.paragraph_pause_s
        assert gap == pytest.approx(want, abs=1 / RATE)
        assert cur.end_s - cur.start_s == pytest.approx(length, abs=1 / RATE)
    assert chapter.duration_s == pytest.approx(times[-1].end_s + s.tail_room_tone_s, abs=1 / RATE)


def test_segment_times_match_the_audio(wav_chapter):
    chapter, s = wav_chapter
    x, rate = read_wav(chapter.audio_path)
    found = bursts(x, rate)
    assert len(found) == len(chapter.segment_times)
    for (start, end), t in zip(found, chapter.segment_times, strict=True):
        assert start == pytest.approx(t.start_s, abs=0.003)
        assert end == pytest.approx(t.end_s, abs=0.003)
    gaps = [b[0] - a[1] for a, b in itertools.pairwise(found)]
    # sentence, sentence, paragraph, sentence pauses as heard in the file
    for gap, want in zip(gaps, [0.35, 0.35, 0.9, 0.35], strict=True):
        assert gap == pytest.approx(want, abs=0.005)
    assert found[0][0] == pytest.approx(s.head_room_tone_s, abs=0.003)
    assert len(x) / rate - found[-1][1] == pytest.approx(s.tail_room_tone_s, abs=0.003)


def test_pauses_and_room_tone_are_configurable(tmp_path):
    s = AudioSettings(
        format="wav",
        sentence_pause_s=0.2,
        paragraph_pause_s=1.5,
        head_room_tone_s=0.6,
        tail_room_tone_s=3.0,
    )
    chapter = assemble_chapter(_segments(), tmp_path, "c", s)
    found = bursts(read_wav(chapter.audio_path)[0], RATE)
    gaps = [round(b[0] - a[1], 2) for a, b in itertools.pairwise(found)]
    assert gaps == [0.2, 0.2, 1.5, 0.2]
    assert chapter.acx.head_s == pytest.approx(0.6, abs=0.011)
    assert chapter.acx.tail_s == pytest.approx(3.0, abs=0.011)
    assert chapter.duration_s == pytest.approx(0.6 + sum(LENGTHS) + 0.2 * 3 + 1.5 + 3.0, abs=1e-3)


def test_room_tone_is_low_noise_not_digital_silence(wav_chapter):
    chapter, s = wav_chapter
    x, rate = read_wav(chapter.audio_path)
    head = x[: int(0.7 * rate)]
    assert np.count_nonzero(head) > 0.9 * len(head)  # not dead air
    rms_db = 20 * np.log10(np.sqrt(np.mean(head**2)))
    assert rms_db == pytest.approx(s.room_tone_db, abs=1.5)
    assert chapter.noise_floor_db <= -60


def test_digital_silence_when_room_tone_is_off(tmp_path):
    chapter = assemble_chapter(
        _segments(), tmp_path, "c", AudioSettings(format="wav", room_tone_db=None)
    )
    x, rate = read_wav(chapter.audio_path)
    assert not np.any(x[: int(0.7 * rate)])


@pytest.mark.parametrize(
    ("fmt", "codec", "rate"),
    [("mp3", "mp3", 44100), ("wav", "pcm_s16le", RATE), ("ogg", "vorbis", RATE)],
)
def test_every_format_encodes_with_the_right_duration(tmp_path, fmt, codec, rate):
    segments = [segment(i, i // 2, speechlike(1.3, -26, seed=i)) for i in range(6)]
    chapter = assemble_chapter(segments, tmp_path, "01-x", AudioSettings(format=fmt))
    assert chapter.audio_path == tmp_path / f"01-x.{fmt}"
    stream = probe_audio_stream(chapter.audio_path)
    assert stream["codec_name"] == codec
    assert stream["sample_rate"] == rate == chapter.sample_rate
    tolerance = MP3_FRAME_S if fmt == "mp3" else 1e-3
    assert probe_duration(chapter.audio_path) == pytest.approx(chapter.duration_s, abs=tolerance)
    assert chapter.acx.duration_s == pytest.approx(chapter.duration_s, abs=tolerance)
    assert chapter.acx.passed, chapter.acx.problems
    if fmt == "mp3":
        assert stream["bit_rate"] == 192_000
    assert not list(tmp_path.glob("*.part")) and not list(tmp_path.glob(".assemble-*"))


def test_mp3_bitrate_is_configurable(tmp_path):
    segments = [segment(0, 0, speechlike(1.0, -20))]
    chapter = assemble_chapter(segments, tmp_path, "c", AudioSettings(mp3_bitrate="128k"))
    assert probe_audio_stream(chapter.audio_path)["bit_rate"] == 128_000
    assert any("bitrate" in p for p in chapter.acx.problems)


def test_mismatched_sample_rates_raise_a_clear_error(tmp_path):
    segments = [segment(0, 0, tone(0.3)), segment(1, 0, tone(0.3, rate=16000), rate=16000)]
    with pytest.raises(AudioError, match=r"segment 1 is 16000 Hz but segment 0 is 22050 Hz"):
        assemble_chapter(segments, tmp_path, "c", AudioSettings())
    assert not list(tmp_path.glob("c.*")) and not list(tmp_path.glob(".assemble-*"))


def test_empty_segment_list_raises_a_clear_error(tmp_path):
    with pytest.raises(AudioError, match="empty list of segments"):
        assemble_chapter([], tmp_path, "c", AudioSettings())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"channels": 2}, "expected mono WAV, got 2 channels"), ({"width": 1}, "16-bit PCM")],
)
def test_wrong_wav_formats_are_refused(tmp_path, kwargs, message):
    with pytest.raises(AudioError, match=message):
        assemble_chapter([segment(0, 0, tone(0.2), **kwargs)], tmp_path, "c", AudioSettings())


def test_garbage_and_disorder_are_refused(tmp_path):
    import contextlib
    import io

    from voxflow.audio import SegmentAudio

    junk = SegmentAudio(0, 0, "x", lambda: contextlib.closing(io.BytesIO(b"not a wav")))
    with pytest.raises(AudioError, match="segment 0: not a readable WAV"):
        assemble_chapter([junk], tmp_path, "c", AudioSettings())
    with pytest.raises(AudioError, match="must be in order"):
        assemble_chapter(
            [segment(1, 0, tone(0.2)), segment(0, 0, tone(0.2))], tmp_path, "c", AudioSettings()
        )
    with pytest.raises(AudioError, match="unknown audio format"):
        AudioSettings(format="flac")


def test_four_hundred_segments_assemble(tmp_path):
    """Streaming path: each segment is opened once, in order, and never all held at once."""
    opened: list[int] = []
    base = [segment(i, i // 4, tone(0.25 + 0.01 * (i % 5), 0.2)) for i in range(400)]

    def tracked(seg):
        inner = seg.open

        def _open():
            opened.append(seg.index)
            return inner()

        seg.open = _open
        return seg

    chapter = assemble_chapter(
        (tracked(s) for s in base), tmp_path, "c", AudioSettings(format="wav")
    )
    assert opened == list(range(400))
    starts = [t.start_s for t in chapter.segment_times]
    ends = [t.end_s for t in chapter.segment_times]
    assert all(b >= a for a, b in zip(ends, starts[1:], strict=False))
    assert probe_duration(chapter.audio_path) == pytest.approx(chapter.duration_s, abs=1e-3)


@pytest.mark.parametrize("fmt", ["mp3", "wav", "ogg"])
def test_the_report_is_never_quieter_in_peak_than_the_decoded_file(tmp_path, fmt):
    """MP3 and WAV are measured as encoded, once; the decoded file must not peak above that."""
    from voxflow.audio import measure_file

    segments = [segment(i, i // 3, speechlike(1.5, -14, seed=i)) for i in range(9)]
    chapter = assemble_chapter(segments, tmp_path, "01-x", AudioSettings(format=fmt))
    decoded, _ = measure_file(chapter.audio_path, fmt)
    assert decoded.peak_db <= chapter.acx.peak_db + 0.05
    assert decoded.true_peak_db <= chapter.acx.true_peak_db + 0.05
    assert decoded.rms_db == pytest.approx(chapter.acx.rms_db, abs=0.5)
    assert decoded.lufs == pytest.approx(chapter.lufs, abs=0.5)


def test_the_book_part_comes_from_the_same_pass(tmp_path):
    segments = [segment(i, i // 2, speechlike(1.3, -26, seed=i)) for i in range(6)]
    part = tmp_path / "01-x.m4a"
    chapter = assemble_chapter(segments, tmp_path, "01-x", AudioSettings(), book_part=part)
    assert chapter.book_part_path == part
    stream = probe_audio_stream(part)
    assert (stream["codec_name"], stream["sample_rate"]) == ("aac", RATE)
    assert probe_duration(part) == pytest.approx(chapter.duration_s, abs=0.05)
    assert not list(tmp_path.glob("*.part"))


def test_an_encoder_that_fails_publishes_none_of_its_files(tmp_path):
    """Two outputs from one stream: when one ffmpeg refuses, neither file appears, and the
    error names the file and says what ffmpeg said."""
    from voxflow.audio.encode import Encoder, Output, aac_args

    good = Output(tmp_path / "a.m4a", [*aac_args(RATE), "-f", "ipod"])
    bad = Output(tmp_path / "b.mp3", ["-c:a", "no_such_codec", "-f", "mp3"])
    encoder = Encoder(RATE, [good, bad])
    chunk = speechlike(1.0, -20).astype(np.float32)
    with pytest.raises(AudioError, match=r"b\.mp3.*no_such_codec") as raised:
        for _ in range(200):
            encoder.write(chunk)
        encoder.close()
    encoder.abort()
    assert "ffmpeg" in str(raised.value)
    assert not list(tmp_path.iterdir())
