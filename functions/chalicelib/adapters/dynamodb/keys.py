"""Every key of the single table, built in one place.

Partition keys (``*_pk``), sort keys (``*_sk`` and the fixed ones), index partition keys
(``*_gsi1``/``*_gsi2``) and the prefixes queries use. A repository never spells ``"SPACE#"``
itself, so the table's layout reads here in one screen:

| item | PK | SK |
|---|---|---|
| Space | ``SPACE#<id>`` | ``META`` (with the ``replay`` map), ``TOPIC#<t>``, ``MEMBER#<u>``, ``TICKET#<id>``, ``BUYER#<u>``, ``REMINDER#<u>``, ``SESSION#<sid>``, ``SEAT#<u>`` (a WebRTC listener seat), ``HLS#<u>`` (an HLS listener's last window), ``FANOUT``, ``SEGMENT#<id>`` |
| user | ``USER#<id>`` | ``PROFILE``, ``FOLLOWS#<u>``, ``DEVICES``, ``PAYOUTS``, ``STRIPE_CUSTOMER``, ``FEEDMODE``, ``BIGFOLLOWS``, ``LIVEIN`` |
| device owner | ``DEVICE#<id>`` | ``OWNER`` |
| feed entry | ``FEED#<u>`` | ``LIVE#<start>#<space>`` (``domain.feed.feed_key``) |
| big accounts live | ``BIGLIVE`` | ``<big id>#<space>`` |
| creator money | ``CREATOR#<id>`` | ``LEDGER#<time>#<ticket>#<kind>``, ``EARNINGS`` |
| account pointer | ``PAYACCT#<account>`` | ``PAYACCT`` |
| idempotency record | ``IDEM#<caller>#<key>`` | ``IDEM`` |
| webhook event | ``EVENT#<source>#<id>`` | ``EVENT`` |
| rate window | ``RATE#<key>`` | ``W#<window start>`` |
| in-room chat | ``SPACE#<id>`` | ``MSG#<message id>``, ``CHATMUTE#<u>``, ``MODLOG#<time>#<id>``, ``MODHELD#<action>#<u>`` |
| personal block | ``USER#<id>`` | ``BLOCK#<blocked user>`` |
| report | ``REPORT#<id>`` | ``REPORT`` |
| clip | ``CLIP#<id>`` | ``CLIP`` |
| the media worker's caption engine | ``MEDIAWORKER`` | ``CAPTIONENGINE`` |

GSI1: a host's Spaces ``HOST#<id>``, followers ``FOLLOWERS#<id>``, raised hands ``HANDS#<space>``,
a buyer's tickets ``TICKETS#<buyer>``, every report ``REPORTS`` (by time), a Space's clips
``CLIPS#<space>``. GSI2: listed Spaces ``LIST#<state>[#TOPIC#<t>]``, pending holds ``HOLDS#<space>``,
pending clips ``PENDINGCLIPS#<space>``.
"""
from __future__ import annotations

from typing import Any

from chalicelib.adapters.dynamodb.table import serialize

# -- fixed sort keys ---------------------------------------------------------------------------
META = "META"
PROFILE = "PROFILE"
DEVICES = "DEVICES"
OWNER = "OWNER"
PAYOUTS = "PAYOUTS"
STRIPE_CUSTOMER = "STRIPE_CUSTOMER"
FEED_MODE = "FEEDMODE"
BIG_FOLLOWS = "BIGFOLLOWS"
LIVE_IN = "LIVEIN"
FANOUT = "FANOUT"
EARNINGS = "EARNINGS"
PAYMENT_ACCOUNT = "PAYACCT"
IDEMPOTENCY = "IDEM"
EVENT = "EVENT"
BIG_LIVE_PK = "BIGLIVE"
MEDIA_WORKER_PK = "MEDIAWORKER"
CAPTION_ENGINE = "CAPTIONENGINE"

# -- prefixes that queries use -----------------------------------------------------------------
MEMBER = "MEMBER#"
TICKET = "TICKET#"
REMINDER = "REMINDER#"
FOLLOWS = "FOLLOWS#"
LEDGER = "LEDGER#"
TOPIC = "TOPIC#"
MESSAGE = "MSG#"
MODLOG = "MODLOG#"
BLOCK = "BLOCK#"
REPORT = "REPORT"
REPORTS_GSI1 = "REPORTS"
SEGMENT = "SEGMENT#"
CLIP = "CLIP"


def key(pk: str, sk: str) -> dict[str, Any]:
    """A ``Key`` in DynamoDB's wire form."""
    return serialize({"PK": pk, "SK": sk})


# -- partitions --------------------------------------------------------------------------------
def space_pk(space_id: str) -> str:
    return f"SPACE#{space_id}"


def user_pk(user_id: str) -> str:
    return f"USER#{user_id}"


def user_of(pk: str) -> str:
    """The user id of a ``USER#<id>`` key."""
    return pk.removeprefix("USER#")


def device_pk(device_id: str) -> str:
    return f"DEVICE#{device_id}"


def feed_pk(user_id: str) -> str:
    return f"FEED#{user_id}"


def creator_pk(host_id: str) -> str:
    return f"CREATOR#{host_id}"


def payment_account_pk(account_id: str) -> str:
    return f"PAYACCT#{account_id}"


def idempotency_pk(scope: str) -> str:
    return f"IDEM#{scope}"


def webhook_event_pk(source: str, event_id: str) -> str:
    return f"EVENT#{source}#{event_id}"


def clip_pk(clip_id: str) -> str:
    return f"CLIP#{clip_id}"


def segment_sk(segment_id: str) -> str:
    return f"{SEGMENT}{segment_id}"


def space_clips_gsi1(space_id: str) -> str:
    return f"CLIPS#{space_id}"


def pending_clips_gsi2(space_id: str) -> str:
    return f"PENDINGCLIPS#{space_id}"


def rate_pk(name: str) -> str:
    return f"RATE#{name}"


# -- sort keys ---------------------------------------------------------------------------------
def member_sk(user_id: str) -> str:
    return f"{MEMBER}{user_id}"


def ticket_sk(ticket_id: str) -> str:
    return f"{TICKET}{ticket_id}"


def buyer_sk(buyer_id: str) -> str:
    return f"BUYER#{buyer_id}"


def topic_sk(topic: str) -> str:
    return f"{TOPIC}{topic}"


def reminder_sk(user_id: str) -> str:
    return f"{REMINDER}{user_id}"


def session_sk(sid: str) -> str:
    return f"SESSION#{sid}"


def seat_sk(user_id: str) -> str:
    return f"SEAT#{user_id}"


def hls_listener_sk(user_id: str) -> str:
    return f"HLS#{user_id}"


def follows_sk(followee: str) -> str:
    return f"{FOLLOWS}{followee}"


def ledger_sk(at: str, ticket_id: str, kind: str) -> str:
    return f"{LEDGER}{at}#{ticket_id}#{kind}"


def message_sk(message_id: str) -> str:
    return f"{MESSAGE}{message_id}"


def chat_mute_sk(user_id: str) -> str:
    return f"CHATMUTE#{user_id}"


def modlog_sk(at: str, entry_id: str) -> str:
    return f"{MODLOG}{at}#{entry_id}"


def modheld_sk(action: str, user_id: str) -> str:
    """A moderation-log entry held while its action runs outside the table (a microphone mute)."""
    return f"MODHELD#{action}#{user_id}"


def block_sk(blocked_id: str) -> str:
    return f"{BLOCK}{blocked_id}"


def report_pk(report_id: str) -> str:
    return f"REPORT#{report_id}"


def rate_window_sk(window_start: int) -> str:
    return f"W#{window_start}"


def big_live_sk(big_id: str, space_id: str) -> str:
    return f"{big_id}#{space_id}"


# -- index partitions --------------------------------------------------------------------------
def host_spaces_gsi1(host_id: str) -> str:
    return f"HOST#{host_id}"


def followers_gsi1(user_id: str) -> str:
    return f"FOLLOWERS#{user_id}"


def hands_gsi1(space_id: str) -> str:
    return f"HANDS#{space_id}"


def buyer_tickets_gsi1(buyer_id: str) -> str:
    return f"TICKETS#{buyer_id}"


def space_list_gsi2(state: str, topic: str | None = None) -> str:
    return f"LIST#{state}" + (f"#TOPIC#{topic}" if topic else "")


def holds_gsi2(space_id: str) -> str:
    return f"HOLDS#{space_id}"
