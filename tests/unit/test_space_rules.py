"""Space rules: title, topics, schedule window and the state machine."""
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.api.paging import decode_cursor, encode_cursor
from chalicelib.domain.errors import InvalidState, ValidationFailed
from chalicelib.domain.spaces import Action, SpaceState, check_schedule, clean_title, clean_topics, next_state
from chalicelib.domain.tickets import check_ticket_offer

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("title", ["a", "x" * 70, "  spaced   out  "])
def test_titles_of_1_to_70_characters_are_accepted(title):
    assert 1 <= len(clean_title(title)) <= 70


@pytest.mark.parametrize("title", ["", "   ", "x" * 71])
def test_titles_outside_1_to_70_characters_are_refused(title):
    with pytest.raises(ValidationFailed) as err:
        clean_title(title)
    assert err.value.details[0]["field"] == "title"


def test_topics_are_normalised_deduplicated_and_capped_at_three():
    assert clean_topics(["Tech", "tech", " music "]) == ["tech", "music"]
    with pytest.raises(ValidationFailed):
        clean_topics(["a", "b", "c", "d"])
    with pytest.raises(ValidationFailed):
        clean_topics(["no spaces"])


def test_schedule_must_be_future_and_within_30_days():
    assert check_schedule(NOW + timedelta(days=30), NOW)
    for bad in (NOW, NOW - timedelta(minutes=1), NOW + timedelta(days=30, seconds=1)):
        with pytest.raises(ValidationFailed) as err:
            check_schedule(bad, NOW)
        assert err.value.details[0]["field"] == "scheduled_start"


ALLOWED = {
    (SpaceState.scheduled, Action.start): SpaceState.live,
    (SpaceState.live, Action.end): SpaceState.ended,
    (SpaceState.scheduled, Action.cancel): SpaceState.canceled,
    (SpaceState.scheduled, Action.edit): SpaceState.scheduled,
    (SpaceState.scheduled, Action.media_options): SpaceState.scheduled,
    (SpaceState.live, Action.media_options): SpaceState.live,
}


@pytest.mark.parametrize("state", list(SpaceState))
@pytest.mark.parametrize("action", list(Action))
def test_state_machine_allows_only_its_transitions(state, action):
    if (state, action) in ALLOWED:
        assert next_state(state, action) is ALLOWED[(state, action)]
    else:
        with pytest.raises(InvalidState) as err:
            next_state(state, action)
        assert err.value.code == "invalid_state" and err.value.status == 409


def test_ticket_offer_bounds_respect_stripe_minimums():
    assert check_ticket_offer(100, "USD", 1, max_quantity=10) == "usd"
    assert check_ticket_offer(99_900, "usd", 10, max_quantity=10) == "usd"
    for price, currency, qty in [(99, "usd", 1), (99_901, "usd", 1), (100, "usd", 0), (100, "usd", 11),
                                 (200, "nok", 1), (100, "xyz", 1)]:
        with pytest.raises(ValidationFailed):
            check_ticket_offer(price, currency, qty, max_quantity=10)


def test_cursors_round_trip_and_refuse_tampering_or_reuse_elsewhere():
    position = {"PK": "SPACE#1", "SK": "META"}
    cursor = encode_cursor(position, scope="a", secret="k")
    assert decode_cursor(cursor, scope="a", secret="k") == position
    for bad_scope, bad_cursor in [("b", cursor), ("a", cursor[:-2] + "xx"), ("a", "garbage"), ("a", "x.y.z")]:
        with pytest.raises(ValidationFailed):
            decode_cursor(bad_cursor, scope=bad_scope, secret="k")
    assert encode_cursor(None, scope="a", secret="k") is None
