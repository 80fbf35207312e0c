"""The rules of in-room messages (domain/chat.py): text, ids, visibility, who deletes."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.chat import TEXT_MAX, Message, check_delete, check_recipient, clean_text, new_message_id
from chalicelib.domain.errors import Forbidden, ValidationFailed
from chalicelib.domain.spaces import Space, SpaceState

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SPACE = Space(id="sp_1", host_id="host", cohost_ids=["co"], title="T", state=SpaceState.live, created_at=NOW,
              updated_at=NOW)


def message(to: str | None = None) -> Message:
    return Message(id="m1", space_id="sp_1", from_user_id="alice", to_user_id=to, text="hi", created_at=NOW)


def field_of(exc: pytest.ExceptionInfo[ValidationFailed]) -> str:
    details = exc.value.details
    assert isinstance(details, list)
    return str(details[0]["field"])


def test_text_is_trimmed_and_bounded() -> None:
    assert clean_text("  hi  ") == "hi"
    assert clean_text("x" * TEXT_MAX) == "x" * TEXT_MAX
    assert clean_text("a\nb 👩‍👩‍👧 ❤️") == "a\nb 👩‍👩‍👧 ❤️"
    for bad in ("", "   ", "x" * (TEXT_MAX + 1), "a\x00", "a\x1b[31m", "a\u202eb", "a\rb", "\x85"):
        with pytest.raises(ValidationFailed) as exc:
            clean_text(bad)
        assert field_of(exc) == "text"


def test_recipients() -> None:
    check_recipient("alice", None, known=False)
    check_recipient("alice", "bob", known=True)
    for to, known in (("alice", True), ("ghost", False)):
        with pytest.raises(ValidationFailed) as exc:
            check_recipient("alice", to, known=known)
        assert field_of(exc) == "to_user_id"


def test_ids_sort_by_time() -> None:
    ids = [new_message_id(NOW + timedelta(milliseconds=ms)) for ms in (0, 1, 999, 1000, 86_400_000)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids) and all(len(i) == 21 for i in ids)


def test_a_private_message_is_for_its_two_parties() -> None:
    public, private = message(), message(to="bob")
    assert public.parties == [] and all(public.visible_to(u) for u in ("alice", "bob", "host"))
    assert private.parties == ["alice", "bob"]
    assert private.visible_to("alice") and private.visible_to("bob") and not private.visible_to("host")
    assert private.as_json()["created_at"] == "2026-06-01T12:00:00Z"


def test_the_author_host_and_cohosts_delete() -> None:
    for caller in ("alice", "host", "co"):
        check_delete(SPACE, caller, message())
    with pytest.raises(Forbidden):
        check_delete(SPACE, "bob", message(to="bob"))


class Blocks:
    """A ``BlockList`` in memory: (blocker, blocked) pairs."""

    def __init__(self, *pairs: tuple[str, str]) -> None:
        self.pairs = set(pairs)

    def block(self, user_id: str, blocked: str, now: datetime) -> bool:
        new = (user_id, blocked) not in self.pairs
        self.pairs.add((user_id, blocked))
        return new

    def unblock(self, user_id: str, blocked: str) -> bool:
        gone = (user_id, blocked) in self.pairs
        self.pairs.discard((user_id, blocked))
        return gone

    def page(self, user_id: str, page: object) -> object:
        raise NotImplementedError

    def blockers_among(self, user_id: str, candidates: list[str]) -> set[str]:
        return {c for c in candidates if (c, user_id) in self.pairs}


def test_a_join_is_refused_to_whoever_the_host_or_a_cohost_blocks() -> None:
    from chalicelib.domain.errors import Banned
    from chalicelib.services.joins import JoinService
    from tests.fakes import FakeMedia, Gate, InMemoryMembers, InMemorySpaces

    spaces = InMemorySpaces(SPACE)
    joins = JoinService(InMemoryMembers(spaces), FakeMedia(), Gate(), blocks=Blocks(("host", "troll"), ("co", "pest"),
                                                                                    ("co", "host")))
    for user in ("troll", "pest"):
        with pytest.raises(Banned):
            joins.join(user, "sp_1")
    assert joins.join("alice", "sp_1").role == "listener"
    assert joins.join("host", "sp_1").role == "host"  # a co-host's block never locks the host out


def test_pin_urls_are_http_or_https_with_a_host() -> None:
    from chalicelib.domain.pins import PIN_URL_MAX, clean_pin_url, make_pin

    assert clean_pin_url("https://example.com/a?b=1#c") == "https://example.com/a?b=1#c"
    assert clean_pin_url("HTTP://EXAMPLE.com:8080") == "HTTP://EXAMPLE.com:8080"
    for bad in ("javascript:alert(1)", "data:text/html,x", "//example.com", "https:///x", "https://a b",
                "https://u:p@example.com", "https://example.com:x", "https://[::1", "http://e.com/" + "a" * PIN_URL_MAX,
                "https://example.com/\u202e", " https://example.com", "https://ex\u00e4mple.com"):
        with pytest.raises(ValidationFailed) as exc:
            clean_pin_url(bad)
        assert field_of(exc) == "url", bad
    with pytest.raises(ValidationFailed):
        make_pin(None, None, by="host", now=NOW)
    assert make_pin("  a  b ", None, by="host", now=NOW).text == "a b"


def test_the_share_page_escapes_everything_and_says_where_the_space_is() -> None:
    from chalicelib.domain.share import ShareLinks, SharePage, render_share_page, shareable, status_line

    evil = SPACE.model_copy(update={"title": '"><script>x</script>', "listener_count": 7})
    html = render_share_page(SharePage(evil, "<b>", None, ShareLinks('/s/"x', None, "airwaves://spaces/sp_1")))
    assert "<script>" not in html and "<b>" not in html and '"x' not in html and "&quot;&gt;&lt;script&gt;" in html
    assert status_line(evil) == "Live now · 7 listening"
    later = SPACE.model_copy(update={"state": SpaceState.scheduled, "scheduled_start": NOW})
    assert status_line(later) == "Starts Mon 01 Jun 2026, 12:00 UTC"
    assert not shareable(SPACE.model_copy(update={"state": SpaceState.canceled})) and not shareable(None)


# -- moderation-log ids ------------------------------------------------------------------------
def test_a_moderation_entry_id_is_the_actions_identity():
    from chalicelib.domain.moderation import ModerationAction, entry_id

    at = datetime(2026, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC)
    remove = ModerationAction.remove
    same = entry_id("sp_1", remove, "host", at, target_user_id="zed")
    assert same == entry_id("sp_1", remove, "host", datetime.fromisoformat(at.isoformat()), target_user_id="zed")
    assert same.startswith("ml_") and len(same) == 19
    others = {entry_id("sp_2", remove, "host", at, target_user_id="zed"),
              entry_id("sp_1", ModerationAction.chat_mute, "host", at, target_user_id="zed"),
              entry_id("sp_1", remove, "carol", at, target_user_id="zed"),
              entry_id("sp_1", remove, "host", at, target_user_id="amy"),
              entry_id("sp_1", remove, "host", at + timedelta(microseconds=1), target_user_id="zed"),
              entry_id("sp_1", remove, "host", at, target_user_id="zed", message_id="m_1"),
              entry_id("sp_1", remove, "host", at, message_id="zed")}  # fields never run into each other
    assert same not in others and len(others) == 7
