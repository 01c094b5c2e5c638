"""Settings and the conditional-request helpers, without a server."""

from __future__ import annotations

import pytest

from api.cache import etag_matches
from api.settings import Settings


def test_settings_from_the_environment():
    s = Settings.from_env({})
    assert s.db_url == "sqlite:///onething.db" and s.redis_url is None and s.max_catalog_body == 2 << 30
    s = Settings.from_env(
        {
            "ONETHING_DB": "postgresql+psycopg://x/y",
            "REDIS_URL": "redis://r:6379/1",
            "ONETHING_MAX_BODY": "10",
            "ONETHING_TOKEN_TTL": "0",
            "ONETHING_DEBUG": "true",
        }
    )
    assert s.db_url == "postgresql+psycopg://x/y" and s.redis_url == "redis://r:6379/1"
    assert s.max_body == 10 and s.token_ttl == 0 and s.debug


@pytest.mark.parametrize(
    ("header", "etag", "matches"),
    [
        (None, '"a"', False),
        ('"a"', '"a"', True),
        ('W/"a"', '"a"', True),
        ('"b", "a"', '"a"', True),
        ('"b"', '"a"', False),
        ("*", '"a"', True),
        ('"ab"', '"a"', False),
    ],
)
def test_if_none_match(header, etag, matches):
    assert etag_matches(header, etag) is matches
