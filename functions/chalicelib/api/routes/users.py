"""Users, the follow graph and hosting eligibility."""
from __future__ import annotations

from chalice.app import Blueprint

from chalicelib.api.routing import Call, Reply, endpoint
from chalicelib.api.schemas import EligibilityOut, FollowOut, PageQuery, UserOut, UserPage, UserUpsertIn
from chalicelib.container import get_container

bp = Blueprint(__name__)


@endpoint(bp, "PUT", "/v1/admin/users/{user_id}", tag="users", admin=True, body=UserUpsertIn,
          response=UserOut, summary="Create or update a profile imported from the social platform (201 created)",
          errors=(400, 401, 403), also=(201,))
def upsert_user(call: Call, user_id: str) -> Reply:
    b: UserUpsertIn = call.body
    user, created = get_container().users.upsert(
        user_id, handle=b.handle, display_name=b.display_name, follower_count=b.follower_count,
        birthdate=b.birthdate, protected=b.protected, suspended=b.suspended)
    return Reply(UserOut.of(user), status=201 if created else 200)


@endpoint(bp, "GET", "/v1/users/{user_id}", tag="users", response=UserOut, summary="A user's profile",
          errors=(401, 404))
def get_user(call: Call, user_id: str) -> UserOut:
    return UserOut.of(get_container().users.require(user_id))


@endpoint(bp, "PUT", "/v1/me/following/{user_id}", tag="users", response=FollowOut,
          summary="Follow a user (idempotent; 403 for yourself)", errors=(400, 401, 403, 404))
def follow(call: Call, user_id: str) -> FollowOut:
    get_container().users.follow(call.user_id, user_id)
    return FollowOut(user_id=user_id, following=True)


@endpoint(bp, "DELETE", "/v1/me/following/{user_id}", tag="users", response=FollowOut,
          summary="Unfollow a user (idempotent; 403 for yourself)", errors=(400, 401, 403, 404))
def unfollow(call: Call, user_id: str) -> FollowOut:
    get_container().users.unfollow(call.user_id, user_id)
    return FollowOut(user_id=user_id, following=False)


@endpoint(bp, "GET", "/v1/me/following", tag="users", query=PageQuery, response=UserPage,
          summary="Who I follow", errors=(400, 401))
def list_following(call: Call) -> UserPage:
    page = call.page(f"following:{call.user_id}")
    users = get_container().users.following(call.user_id, page.request)
    return UserPage(items=[UserOut.of(u) for u in users.items], next_cursor=page.next_cursor(users))


@endpoint(bp, "GET", "/v1/me/eligibility", tag="users", response=EligibilityOut,
          summary="Whether I may host (and host ticketed Spaces), with reasons", errors=(401, 404))
def my_eligibility(call: Call) -> EligibilityOut:
    return EligibilityOut.of(get_container().users.eligibility(call.user_id))
