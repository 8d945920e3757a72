"""Durations as operators write them: Go strings or plain seconds."""

from __future__ import annotations

import pytest

from flux_adapter.observe.durations import DurationError, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("200ms", 0.2),
        ("10s", 10.0),
        ("1m30s", 90.0),
        ("1h", 3600.0),
        ("1.5s", 1.5),
        ("5", 5.0),
        ("0.25", 0.25),
        ("0", 0.0),
        ("500us", 0.0005),
    ],
)
def test_go_durations_and_plain_seconds_parse(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "ten", "10x", "1m30", "s", "-1s", "-5", "1s garbage"])
def test_malformed_or_negative_durations_are_refused(text: str) -> None:
    with pytest.raises(DurationError):
        parse_duration(text)
