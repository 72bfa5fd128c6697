"""The shared backoff: doubling from half a second, capped at ten."""

from itertools import islice

from voxflow.retrying import backoff


def test_backoff_doubles_then_holds_at_the_cap():
    assert list(islice(backoff(), 7)) == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert list(islice(backoff(first_s=1.0, cap_s=3.0), 4)) == [1.0, 2.0, 3.0, 3.0]
