"""Stage rules: media grants per role, admission, speak requests, caps and moderation."""
from datetime import UTC, datetime

import pytest

from chalicelib.domain.errors import Banned, Forbidden, InvalidState, NotFound, SpeakerLimit, ValidationFailed
from chalicelib.domain.roles import (
    MICROPHONE,
    REACTION_EMOJIS,
    Member,
    Role,
    check_admission,
    check_answer_request,
    check_grant_cohost,
    check_grant_speaker,
    check_mute,
    check_raise_hand,
    check_reaction,
    check_remove,
    check_revoke_cohost,
    check_revoke_speaker,
    media_grant,
    needs_ticket,
    rate_window,
    role_of,
    with_role,
)
from chalicelib.domain.spaces import Space, SpaceState, Ticketing

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def space(state=SpaceState.live, cohosts=(), speakers=(), ticket=None) -> Space:
    return Space(id="sp_1", host_id="h", cohost_ids=list(cohosts), speaker_ids=list(speakers), title="t",
                 state=state, ticket=ticket, created_at=NOW, updated_at=NOW)


def member(user="u", **fields) -> Member:
    return Member(space_id="sp_1", user_id=user, **fields)


# -- media grants ----------------------------------------------------------------------------
def test_listeners_may_only_subscribe():
    grant = media_grant(Role.listener)
    assert (grant.can_publish, grant.can_subscribe, grant.can_publish_data) == (False, True, False)
    assert grant.publish_sources == ()
    assert grant.hidden  # no participant update fanned out to every listener per join (bench_scale)


@pytest.mark.parametrize("role", [Role.host, Role.cohost, Role.speaker])
def test_the_stage_publishes_its_microphone_only(role):
    grant = media_grant(role)
    assert grant.can_publish and grant.can_subscribe
    assert grant.publish_sources == (MICROPHONE,)
    assert not grant.can_publish_data and not grant.can_update_metadata and not grant.hidden


# -- roles and admission ---------------------------------------------------------------------
def test_role_of_reads_the_space():
    s = space(cohosts=["c"], speakers=["s"])
    assert [role_of(s, u) for u in ("h", "c", "s", "x")] == [Role.host, Role.cohost, Role.speaker, Role.listener]


def test_with_role_moves_a_user_between_sets_without_touching_others():
    s = space(cohosts=["c"], speakers=["s", "t"])
    promoted = with_role(s, "s", Role.cohost)
    assert promoted.cohost_ids == ["c", "s"] and promoted.speaker_ids == ["t"]
    assert with_role(promoted, "c", Role.listener).cohost_ids == ["s"]
    assert s.speaker_ids == ["s", "t"]  # the original is untouched


@pytest.mark.parametrize("state", [SpaceState.scheduled, SpaceState.ended, SpaceState.canceled])
def test_only_live_spaces_admit(state):
    with pytest.raises(InvalidState):
        check_admission(space(state), "u", None)


def test_banned_users_are_not_admitted_and_others_get_their_role():
    with pytest.raises(Banned):
        check_admission(space(), "u", member(banned=True))
    assert check_admission(space(speakers=["u"]), "u", member()) is Role.speaker


def test_tickets_are_needed_only_by_listeners_of_ticketed_spaces():
    ticketed = space(ticket=Ticketing(price_cents=500, currency="usd", quantity=10))
    assert needs_ticket(ticketed, Role.listener)
    assert not any(needs_ticket(ticketed, r) for r in (Role.host, Role.cohost, Role.speaker))
    assert not needs_ticket(space(), Role.listener)


# -- speak requests --------------------------------------------------------------------------
def test_only_listeners_raise_hands():
    check_raise_hand(space(), "u", None)
    with pytest.raises(InvalidState):
        check_raise_hand(space(speakers=["u"]), "u", None)
    with pytest.raises(Banned):
        check_raise_hand(space(), "u", member(banned=True))


def test_answering_needs_a_moderator_and_a_pending_request():
    raised = member(hand_raised_at=NOW)
    check_answer_request(space(cohosts=["c"]), "c", raised)
    with pytest.raises(Forbidden):
        check_answer_request(space(), "x", raised)
    with pytest.raises(NotFound):
        check_answer_request(space(), "h", member())


# -- stage caps ------------------------------------------------------------------------------
def test_speakers_are_capped_at_ten_besides_host_and_cohosts():
    full = space(cohosts=["c1", "c2"], speakers=[f"s{i}" for i in range(10)])
    with pytest.raises(SpeakerLimit) as err:
        check_grant_speaker(full, "h", "new", None)
    assert err.value.code == "speaker_limit" and err.value.details["limit"] == 10
    check_grant_speaker(full, "h", "s3", None)  # re-granting an existing speaker is fine
    check_grant_speaker(space(speakers=[f"s{i}" for i in range(9)]), "h", "new", None)


def test_granting_speech_needs_a_moderator_an_open_space_and_an_unbanned_target():
    with pytest.raises(Forbidden):
        check_grant_speaker(space(speakers=["s"]), "s", "x", None)
    with pytest.raises(InvalidState):
        check_grant_speaker(space(SpaceState.ended), "h", "x", None)
    with pytest.raises(InvalidState):
        check_grant_speaker(space(cohosts=["c"]), "h", "c", None)
    with pytest.raises(InvalidState):
        check_grant_speaker(space(), "h", "h", None)
    with pytest.raises(Banned):
        check_grant_speaker(space(), "h", "x", member("x", banned=True))
    check_grant_speaker(space(SpaceState.scheduled), "h", "x", None)  # invite ahead of the start


def test_speakers_may_step_down_but_not_move_others():
    check_revoke_speaker(space(speakers=["s"]), "s", "s")
    check_revoke_speaker(space(cohosts=["c"], speakers=["s"]), "c", "s")
    with pytest.raises(Forbidden):
        check_revoke_speaker(space(speakers=["s", "t"]), "t", "s")


def test_cohosts_are_host_only_and_capped_at_two():
    with pytest.raises(Forbidden):
        check_grant_cohost(space(cohosts=["c"]), "c", "x", None)
    with pytest.raises(SpeakerLimit) as err:
        check_grant_cohost(space(cohosts=["c1", "c2"]), "h", "x", None)
    assert err.value.details == {"role": "cohost", "limit": 2}
    check_grant_cohost(space(cohosts=["c1"], speakers=["s"]), "h", "s", None)
    with pytest.raises(Forbidden):
        check_revoke_cohost(space(cohosts=["c"]), "c")


# -- moderation ------------------------------------------------------------------------------
def test_nobody_mutes_or_removes_the_host():
    with pytest.raises(Forbidden):
        check_mute(space(cohosts=["c"]), "c", "h")
    with pytest.raises(Forbidden):
        check_remove(space(cohosts=["c"]), "c", "h")


def test_cohosts_cannot_act_on_other_cohosts_but_the_host_can():
    s = space(cohosts=["c1", "c2"])
    with pytest.raises(Forbidden):
        check_remove(s, "c1", "c2")
    with pytest.raises(Forbidden):
        check_mute(s, "c1", "c2")
    check_remove(s, "h", "c2")
    check_mute(s, "h", "c2")


def test_listeners_and_speakers_cannot_moderate():
    s = space(speakers=["s"])
    with pytest.raises(Forbidden):
        check_mute(s, "s", "x")
    with pytest.raises(Forbidden):
        check_remove(s, "x", "s")


def test_removing_yourself_or_moderating_a_dead_space_is_invalid():
    with pytest.raises(InvalidState):
        check_remove(space(), "h", "h")
    with pytest.raises(InvalidState):
        check_remove(space(SpaceState.ended), "h", "x")


# -- reactions -------------------------------------------------------------------------------
def test_reactions_come_from_a_fixed_set():
    for emoji in REACTION_EMOJIS:
        assert check_reaction(emoji) == emoji
    with pytest.raises(ValidationFailed) as err:
        check_reaction("🍕")
    assert err.value.details[0]["field"] == "emoji"


def test_rate_windows_are_fixed_and_aligned():
    assert rate_window(NOW, 10) == int(NOW.timestamp())
    later = NOW.replace(second=9)
    assert rate_window(later, 10) == int(NOW.timestamp())
    assert rate_window(NOW.replace(second=10), 10) == int(NOW.timestamp()) + 10
