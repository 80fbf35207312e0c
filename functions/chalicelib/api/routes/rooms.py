"""Joining and roles: join credentials, speak requests, speakers, co-hosts, moderation, reactions
and the participant list of a live Space."""
from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.api.room_schemas import (
    DenialOut,
    HandOut,
    MuteOut,
    ParticipantsOut,
    ReactionIn,
    ReactionOut,
    RemovalOut,
    RoleOut,
    SpeakRequestOut,
    SpeakRequestPage,
)
from chalicelib.api.routing import Call, Caller, Reply, endpoint
from chalicelib.api.schemas import JoinAnswerOut, LiveHlsQuery, PageQuery
from chalicelib.container import get_container
from chalicelib.domain.hls import HLS_CONTENT_TYPE

bp = Blueprint(__name__)
TAG = "joining and roles"
ROLE_ERRORS = (401, 403, 404, 409, 503)


@endpoint(bp, "POST", "/v1/spaces/{space_id}/join", caller=Caller.audience, tag=TAG, response=JoinAnswerOut,
          summary="Credentials to connect to a live Space's audio (LiveKit URL, token, role); past the Space's "
                  "WebRTC audience cap, a listener gets a live HLS link instead (transport hls)",
          errors=(401, 403, 404, 409, 503))
def join_space(call: Call, space_id: str) -> JoinAnswerOut:
    return JoinAnswerOut.of(get_container().joins.join(call.user_id, space_id))


@endpoint(bp, "GET", "/v1/spaces/{space_id}/live.m3u8", caller=Caller.signature, tag=TAG, auth=False, query=LiveHlsQuery,
          summary="The live stage as an HLS media playlist (application/vnd.apple.mpegurl), for the listener "
                  "of the signed link a join answered past the WebRTC cap; segment URLs are short-lived",
          errors=(401, 403, 404, 503))
def live_hls(call: Call, space_id: str) -> Response:
    text = get_container().live_hls.playlist(space_id, call.query.token)
    return Response(body=text, status_code=200, headers={"Content-Type": HLS_CONTENT_TYPE, "Cache-Control": "no-store"})


# -- speak requests --------------------------------------------------------------------------
@endpoint(bp, "POST", "/v1/spaces/{space_id}/speak-requests", caller=Caller.audience, tag=TAG, status=201, response=SpeakRequestOut,
          idempotent=True, summary="Raise your hand (listeners); hosts and co-hosts are notified",
          errors=(*ROLE_ERRORS, 429))
def raise_hand(call: Call, space_id: str) -> SpeakRequestOut:
    return SpeakRequestOut.of(get_container().stage.raise_hand(call.user_id, space_id))


@endpoint(bp, "DELETE", "/v1/spaces/{space_id}/speak-requests", caller=Caller.signed_in, tag=TAG, response=HandOut,
          summary="Lower your hand", errors=(401, 404, 429))
def lower_hand(call: Call, space_id: str) -> HandOut:
    get_container().stage.lower_hand(call.user_id, space_id)
    return HandOut(space_id=space_id, user_id=call.user_id, hand_raised=False)


@endpoint(bp, "GET", "/v1/spaces/{space_id}/speak-requests", caller=Caller.moderators, tag=TAG, query=PageQuery, response=SpeakRequestPage,
          summary="The queue of raised hands, oldest first (host or co-host)", errors=(400, 401, 403, 404))
def speak_requests(call: Call, space_id: str) -> SpeakRequestPage:
    page = call.page(f"hands:{space_id}")
    hands = get_container().stage.requests(call.user_id, space_id, page.request)
    return SpeakRequestPage(items=[SpeakRequestOut.of(m) for m in hands.items], next_cursor=page.next_cursor(hands))


@endpoint(bp, "POST", "/v1/spaces/{space_id}/speak-requests/{user_id}/approve", caller=Caller.moderators, tag=TAG, response=RoleOut,
          summary="Approve a raised hand: the listener becomes a speaker at once (host or co-host)",
          errors=ROLE_ERRORS)
def approve_request(call: Call, space_id: str, user_id: str) -> RoleOut:
    return RoleOut.of(get_container().stage.approve(call.user_id, space_id, user_id))


@endpoint(bp, "POST", "/v1/spaces/{space_id}/speak-requests/{user_id}/deny", caller=Caller.moderators, tag=TAG, response=DenialOut,
          summary="Deny a raised hand (host or co-host)", errors=(401, 403, 404, 409))
def deny_request(call: Call, space_id: str, user_id: str) -> DenialOut:
    get_container().stage.deny(call.user_id, space_id, user_id)
    return DenialOut(space_id=space_id, user_id=user_id)


# -- stage -----------------------------------------------------------------------------------
@endpoint(bp, "PUT", "/v1/spaces/{space_id}/speakers/{user_id}", caller=Caller.moderators, tag=TAG, response=RoleOut,
          summary="Invite or promote a speaker (host or co-host); 409 speaker_limit past 10", errors=ROLE_ERRORS)
def add_speaker(call: Call, space_id: str, user_id: str) -> RoleOut:
    return RoleOut.of(get_container().stage.add_speaker(call.user_id, space_id, user_id))


@endpoint(bp, "DELETE", "/v1/spaces/{space_id}/speakers/{user_id}", caller=Caller.moderators, tag=TAG, response=RoleOut,
          summary="Back to listener (host or co-host; a speaker may step down)", errors=ROLE_ERRORS)
def remove_speaker(call: Call, space_id: str, user_id: str) -> RoleOut:
    return RoleOut.of(get_container().stage.remove_speaker(call.user_id, space_id, user_id))


@endpoint(bp, "PUT", "/v1/spaces/{space_id}/cohosts/{user_id}", caller=Caller.host, tag=TAG, response=RoleOut,
          summary="Make a co-host (host only; at most 2)", errors=ROLE_ERRORS)
def add_cohost(call: Call, space_id: str, user_id: str) -> RoleOut:
    return RoleOut.of(get_container().stage.add_cohost(call.user_id, space_id, user_id))


@endpoint(bp, "DELETE", "/v1/spaces/{space_id}/cohosts/{user_id}", caller=Caller.host, tag=TAG, response=RoleOut,
          summary="Remove a co-host, back to listener (host only)", errors=ROLE_ERRORS)
def remove_cohost(call: Call, space_id: str, user_id: str) -> RoleOut:
    return RoleOut.of(get_container().stage.remove_cohost(call.user_id, space_id, user_id))


# -- moderation ------------------------------------------------------------------------------
@endpoint(bp, "POST", "/v1/spaces/{space_id}/participants/{user_id}/mute", caller=Caller.moderators, tag=TAG, response=MuteOut,
          summary="Mute someone's microphone (host or co-host); they may unmute themselves",
          errors=ROLE_ERRORS)
def mute_participant(call: Call, space_id: str, user_id: str) -> MuteOut:
    return MuteOut.of(get_container().moderation.mute(call.user_id, space_id, user_id))


@endpoint(bp, "POST", "/v1/spaces/{space_id}/participants/{user_id}/remove", caller=Caller.moderators, tag=TAG, response=RemovalOut,
          summary="Disconnect someone and ban them from rejoining (host or co-host)", errors=ROLE_ERRORS)
def remove_participant(call: Call, space_id: str, user_id: str) -> RemovalOut:
    return RemovalOut.of(get_container().moderation.remove(call.user_id, space_id, user_id))


# -- reactions and the room ------------------------------------------------------------------
@endpoint(bp, "POST", "/v1/spaces/{space_id}/reactions", caller=Caller.audience, tag=TAG, status=201, body=ReactionIn,
          response=ReactionOut, idempotent=True,
          summary="Send a reaction to everyone in the Space (rate-limited per person)",
          errors=(400, 401, 403, 404, 409, 429, 503))
def react(call: Call, space_id: str) -> Reply:
    reaction = get_container().reactions.react(call.user_id, space_id, call.body.emoji)
    return Reply(ReactionOut.of(reaction), status=201)


@endpoint(bp, "GET", "/v1/spaces/{space_id}/participants", caller=Caller.audience, tag=TAG, response=ParticipantsOut,
          summary="Roles, who is connected, pending requests (hosts) and counts (who may join only)", errors=(401, 403, 404, 503))
def participants(call: Call, space_id: str) -> ParticipantsOut:
    return ParticipantsOut.of(get_container().participants.view(call.user_id, space_id))
