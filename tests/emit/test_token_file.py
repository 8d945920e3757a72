"""The token file: read when it changes, refused when empty or missing, never shown."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flux_adapter.emit.token_file import TokenFile, TokenFileError


def test_token_is_read_without_surrounding_whitespace(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("  abc123\n")

    assert TokenFile(path).current() == "abc123"


def test_token_is_read_again_after_the_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("first")
    token = TokenFile(path)
    token.current()

    replacement = tmp_path / "token.new"
    replacement.write_text("second")
    os.replace(replacement, path)

    assert token.current() == "second"


@pytest.mark.parametrize("content", [None, "", "  \n"])
def test_a_missing_or_empty_file_is_an_error_naming_the_path(
    tmp_path: Path, content: str | None
) -> None:
    path = tmp_path / "token"
    if content is not None:
        path.write_text(content)

    with pytest.raises(TokenFileError, match=str(path)):
        TokenFile(path).current()


def test_the_token_never_shows_in_its_repr(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("hidden-value")
    token = TokenFile(path)
    token.current()

    assert "hidden-value" not in repr(token)
