"""The words people read, each once: field labels in one table, moments in Beijing time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import catalog.wording
import catalog.words
from catalog.words import FIELD_LABELS, beijing, field_label


def test_a_stored_moment_is_shown_in_beijing_time() -> None:
    assert beijing(datetime(2026, 12, 4, 16, 30, tzinfo=UTC)) == "2026-12-05 00:30"  # the next day
    assert beijing(datetime(2026, 12, 4, 16, 30)) == "2026-12-05 00:30"  # naive: the store's UTC
    assert beijing("2026-12-04T01:05:09+00:00") == "2026-12-04 09:05"  # a version's ISO text
    other = timezone(timedelta(hours=-5))
    assert beijing(datetime(2026, 7, 1, 20, 0, tzinfo=other)) == "2026-07-02 09:00"  # no summer time
    assert beijing(None) == ""


def test_one_table_of_field_labels() -> None:
    assert catalog.wording.FIELD_LABELS is FIELD_LABELS
    assert field_label("promised_days") == "承诺办结时限"
    assert field_label("statutory_days") == "法定办结时限"
    assert field_label("phone") == "咨询电话"
    assert field_label("colour") == "colour"  # a field without a label keeps its name


def test_no_page_keeps_a_table_of_its_own() -> None:
    import api.pages.lifecycle

    assert not hasattr(api.pages.lifecycle, "FIELD_NAMES")
    assert api.pages.lifecycle._globals()["field_names"] is catalog.words.FIELD_LABELS


def test_every_level_and_role_has_one_chinese_name() -> None:
    from catalog.model import LEVELS
    from catalog.words import LEVEL_NAMES, LEVEL_ORDER, ROLE_NAMES, ROLES, level_name, role_name

    assert set(LEVEL_NAMES) == set(LEVELS) and set(ROLE_NAMES) == set(ROLES)
    assert [LEVEL_ORDER[level] for level in LEVELS] == sorted(LEVEL_ORDER.values())
    assert level_name("province") == "省级" and role_name("reviewer") == "审查人员"
    assert level_name("hamlet") == "hamlet"  # an unknown word keeps its name
