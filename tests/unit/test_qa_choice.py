"""Automatic retakes: when a flagged segment is rendered again, and which take is kept."""

from __future__ import annotations

from voxflow.qa.choice import Choice, Rendering, choose

FIRST = Rendering(0, "segments/aa/first.wav", 0.9, True)
SECOND = Rendering(1, "segments/bb/second.wav", 0.2, False)
THIRD = Rendering(2, "segments/cc/third.wav", 0.8, True)


def test_a_passing_segment_is_left_alone():
    assert choose(SECOND, [FIRST, SECOND], max_retakes=3) == Choice()


def test_a_flagged_segment_is_retaken_while_it_has_retakes_left():
    assert choose(FIRST, [FIRST], max_retakes=1) == Choice(retake=True)
    assert choose(THIRD, [FIRST, THIRD], max_retakes=2) == Choice(retake=True)


def test_without_retakes_the_flag_stays_and_the_rendering_is_kept():
    assert choose(FIRST, [FIRST], max_retakes=0) == Choice(best=FIRST)


def test_after_its_retakes_the_best_take_is_kept_passing_first():
    assert choose(THIRD, [FIRST, SECOND, THIRD], max_retakes=2) == Choice(best=SECOND)
    lower = Rendering(2, "segments/dd/lower.wav", 0.85, True)
    assert choose(lower, [FIRST, lower], max_retakes=1).best == lower, "lower WER when all flag"
