"""Use cases for profiles, the follow graph and hosting eligibility."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from chalicelib.domain.clock import utcnow
from chalicelib.domain.errors import NotFound, field_error
from chalicelib.domain.users import Eligibility, HostingPolicy, User, eligibility
from chalicelib.ports import Position, UserRepository


@dataclass
class UserService:
    users: UserRepository
    policy: HostingPolicy
    charges_enabled: Callable[[str], bool] = lambda _user_id: False

    def require(self, user_id: str) -> User:
        user = self.users.get(user_id)
        if user is None:
            raise NotFound(f"no user {user_id}")
        return user

    def upsert(self, user_id: str, *, handle: str, display_name: str, follower_count: int | None = None,
               birthdate: date | None = None, protected: bool | None = None,
               suspended: bool | None = None) -> tuple[User, bool]:
        return self.users.upsert(user_id, handle=handle, display_name=display_name,
                                 follower_count=follower_count, birthdate=birthdate,
                                 protected=protected, suspended=suspended, now=utcnow())

    def follow(self, me: str, other: str) -> bool:
        if me == other:
            raise field_error("user_id", "you cannot follow yourself")
        return self.users.follow(me, other, utcnow())

    def unfollow(self, me: str, other: str) -> bool:
        if me == other:
            raise field_error("user_id", "you cannot unfollow yourself")
        return self.users.unfollow(me, other)

    def following(self, me: str, start: Position, limit: int) -> tuple[list[User], Position]:
        ids, last = self.users.following_page(me, start, limit)
        return self.users.get_many(ids), last

    def eligibility(self, user_id: str) -> Eligibility:
        user = self.require(user_id)
        return eligibility(user, self.policy, charges_enabled=self.charges_enabled(user_id), now=utcnow())
