"""The share page: the Space and its host's public profile, as ``domain/share.py`` renders them."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from chalicelib.domain.share import ShareLinks, SharePage, shareable
from chalicelib.ports import SpaceRepository, UserRepository


@dataclass
class ShareService:
    spaces: SpaceRepository
    users: UserRepository
    public_base_url: str  # where ``/s/{id}`` is served (empty: relative links)
    web_app_url: str  # the web app (empty: none; the page links to the app only)
    app_scheme: str = "airwaves"

    def page(self, space_id: str) -> SharePage | None:
        """None for an unknown or canceled Space (the route answers a plain 404 page)."""
        space = self.spaces.get(space_id)
        if space is None or not shareable(space):
            return None
        host = self.users.get(space.host_id)
        sid = quote(space.id, safe="")
        links = ShareLinks(page_url=f"{self.public_base_url.rstrip('/')}/s/{sid}",
                           web_url=f"{self.web_app_url.rstrip('/')}/spaces/{sid}" if self.web_app_url else None,
                           app_url=f"{self.app_scheme}://spaces/{sid}")
        return SharePage(space=space, host_name=host.display_name if host else "someone",
                         host_handle=host.handle if host else None, links=links)
