"""Secrets the process knows are masked by value, in every form a peer could echo them."""

from __future__ import annotations

import base64
import re
from urllib.parse import quote, quote_plus

import pytest

from flux_adapter.observe.redact import MASK, redact_secrets, remember_secret, secret_forms

TOKEN = "eyJhbGciOi.J9+/token=&secret"


def echoes(secret: str) -> dict[str, str]:
    """A secret as a server or a library could write it back, each in a sentence."""
    raw = secret.encode()
    return {
        "bare": f"refused {secret} here",
        "bearer": f"Authorization: Bearer {secret}",
        "url-encoded": f"?access_token={quote(secret, safe='')}&x=1",
        "url-encoded, lower-case hex": "t="
        + re.sub("%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(secret, safe="")),
        "form-encoded": f"token={quote_plus(secret)}",
        "base64": f"t={base64.b64encode(raw).decode()}",
        "base64 url-safe": f"t={base64.urlsafe_b64encode(raw).decode()}",
        "basic auth": "Basic " + base64.b64encode(b"adapter:" + raw).decode(),
        "basic auth, other alignment": "Basic " + base64.b64encode(b"ab:" + raw).decode(),
        "json-escaped": 'body {"token": "' + secret.replace("/", "\\/") + '"}',
    }


@pytest.mark.parametrize("form", list(echoes(TOKEN)))
def test_a_remembered_secret_is_masked_in_every_form(form: str) -> None:
    remember_secret(TOKEN)
    text = echoes(TOKEN)[form]
    masked = redact_secrets(text)
    assert MASK in masked
    for leaked in secret_forms(TOKEN) | {TOKEN}:
        assert leaked not in masked


def test_text_without_a_remembered_secret_is_left_alone() -> None:
    remember_secret(TOKEN)
    assert redact_secrets("posted 3 envelopes to http://flow:8080") == (
        "posted 3 envelopes to http://flow:8080"
    )


def test_a_value_too_short_to_be_a_secret_is_not_remembered() -> None:
    remember_secret("admin")
    assert redact_secrets("admin logged in") == "admin logged in"


def test_a_rotated_token_is_masked_beside_the_old_one() -> None:
    remember_secret("first-token-value")
    remember_secret("second-token-value")
    assert redact_secrets("first-token-value second-token-value") == f"{MASK} {MASK}"
