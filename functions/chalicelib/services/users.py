"""Use cases for profiles, the follow graph and hosting eligibility."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from chalicelib.domain.clock import utcnow
from chalicelib.domain.errors import Forbidden, NotFound, field_error
from chalicelib.domain.pages import Page, PageRequest
from chalicelib.domain.text import clean_line
from chalicelib.domain.users import Eligibility, HostingPolicy, User, eligibility
from chalicelib.ports import UserRepository
from chalicelib.services.big_accounts import BigAccountFollows
from chalicelib.services.payouts import PayoutService


@dataclass
class UserService:
    users: UserRepository
    policy: HostingPolicy
    payouts: PayoutService
    big_follows: BigAccountFollows

    def require(self, user_id: str) -> User:
        user = self.users.get(user_id)
        if user is None:
            raise NotFound(f"no user {user_id}")
        return user

    def upsert(self, user_id: str, *, handle: str, display_name: str, follower_count: int | None = None,
               birthdate: date | None = None, protected: bool | None = None,
               suspended: bool | None = None) -> tuple[User, bool]:
        display_name = clean_line(display_name)
        if not display_name:
            raise field_error("display_name", "must have visible characters")
        return self.users.upsert(user_id, handle=handle, display_name=display_name,
                                 follower_count=follower_count, birthdate=birthdate,
                                 protected=protected, suspended=suspended, now=utcnow())

    def follow(self, me: str, other: str) -> bool:
        if me == other:
            raise Forbidden("you cannot follow yourself")
        created = self.users.follow(me, other, utcnow())
        self.big_follows.followed(me, other)
        return created

    def unfollow(self, me: str, other: str) -> bool:
        if me == other:
            raise Forbidden("you cannot unfollow yourself")
        removed = self.users.unfollow(me, other)
        self.big_follows.unfollowed(me, other)
        return removed

    def following(self, me: str, page: PageRequest) -> Page[User]:
        ids = self.users.following_page(me, page)
        return Page(self.users.get_many(ids.items), ids.next)

    def eligibility(self, user_id: str) -> Eligibility:
        user = self.require(user_id)
        return eligibility(user, self.policy, charges_enabled=self.payouts.charges_enabled(user_id), now=utcnow())
