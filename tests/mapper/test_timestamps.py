"""RFC 3339 timestamps to Unix milliseconds, exactly."""

from __future__ import annotations

import pytest

from mapper.timestamps import BadTimestampError, rfc3339_to_millis


@pytest.mark.parametrize(
    ("text", "millis"),
    [
        ("1970-01-01T00:00:00Z", 0),
        ("2026-11-21T23:34:29Z", 1_795_304_069_000),
        ("2026-11-21T23:34:29.123456Z", 1_795_304_069_123),
        ("2026-11-22T01:34:29+02:00", 1_795_304_069_000),
    ],
)
def test_rfc3339_converts_to_exact_millis(text: str, millis: int) -> None:
    assert rfc3339_to_millis(text) == millis


@pytest.mark.parametrize("text", ["yesterday", "2026-11-21T23:34:29", "1969-12-31T23:59:59Z", ""])
def test_bad_or_zoneless_or_pre_epoch_timestamps_are_refused(text: str) -> None:
    with pytest.raises(BadTimestampError):
        rfc3339_to_millis(text)
