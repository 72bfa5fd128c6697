from hypothesis import given
from hypothesis import strategies as st

from voxflow.jobs import plan_jobs


def test_jobs_respect_count_and_characters():
    assert plan_jobs([10] * 5, max_segments=2, max_chars=100) == [(0, 2), (2, 4), (4, 5)]
    assert plan_jobs([60, 60, 30], max_segments=10, max_chars=100) == [(0, 1), (1, 3)]


def test_an_oversized_segment_gets_its_own_job():
    assert plan_jobs([5, 500, 5], max_segments=10, max_chars=100) == [(0, 1), (1, 2), (2, 3)]


def test_empty_chapter_has_no_jobs():
    assert plan_jobs([], max_segments=4, max_chars=100) == []


@given(
    st.lists(st.integers(min_value=1, max_value=400), max_size=300),
    st.integers(min_value=1, max_value=32),
    st.integers(min_value=1, max_value=4000),
)
def test_jobs_cover_every_segment_once_in_order(lengths, max_segments, max_chars):
    jobs = plan_jobs(lengths, max_segments, max_chars)
    covered = [i for start, end in jobs for i in range(start, end)]
    assert covered == list(range(len(lengths)))
    for start, end in jobs:
        assert 1 <= end - start <= max_segments
        assert end - start == 1 or sum(lengths[start:end]) <= max_chars
