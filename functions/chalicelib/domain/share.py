"""The public share page of a Space (``GET /s/{id}``): what it shows and its HTML.

Only public facts: title, host's name and handle, state, listener count (live) or start time
(scheduled), topics. Every value is HTML-escaped (attributes too), so a title such as
``<script>`` reads as text. Open Graph and Twitter card tags make a posted link preview; app-link
tags and a button open the app.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape

from chalicelib.domain.clock import to_rfc3339
from chalicelib.domain.spaces import Space, SpaceState

SITE_NAME = "Airwaves"
CACHE_SECONDS = 60


@dataclass(frozen=True)
class ShareLinks:
    page_url: str  # this page (og:url)
    web_url: str | None  # the Space in the web app (None: no web app)
    app_url: str  # the Space in the mobile app (custom scheme)


@dataclass(frozen=True)
class SharePage:
    space: Space
    host_name: str
    host_handle: str | None
    links: ShareLinks


def shareable(space: Space | None) -> bool:
    return space is not None and space.state is not SpaceState.canceled


def _when(moment: datetime) -> str:
    return moment.strftime("%a %d %b %Y, %H:%M UTC")


def status_line(space: Space) -> str:
    """One sentence on where the Space is: live with how many listening, when it starts, or ended."""
    match space.state:
        case SpaceState.live:
            return f"Live now · {space.listener_count} listening"
        case SpaceState.scheduled:
            return f"Starts {_when(space.scheduled_start)}" if space.scheduled_start else "Scheduled"
        case _:
            return "This Space has ended"


def _meta(attr: str, name: str, content: str) -> str:
    return f'<meta {attr}="{escape(name)}" content="{escape(content)}">'


def render_share_page(page: SharePage) -> str:
    space, links = page.space, page.links
    host = page.host_name + (f" (@{page.host_handle})" if page.host_handle else "")
    status = status_line(space)
    description = f"{status} · hosted by {host}"
    tags = [
        _meta("property", "og:type", "website"), _meta("property", "og:site_name", SITE_NAME),
        _meta("property", "og:title", space.title), _meta("property", "og:description", description),
        _meta("property", "og:url", links.page_url),
        _meta("name", "twitter:card", "summary"), _meta("name", "twitter:title", space.title),
        _meta("name", "twitter:description", description),
        _meta("property", "al:ios:url", links.app_url), _meta("property", "al:android:url", links.app_url),
        _meta("name", "description", description),
    ]
    if links.web_url:
        tags.append(_meta("property", "al:web:url", links.web_url))
    when = ""
    if space.state is SpaceState.scheduled and space.scheduled_start:
        when = f'<p><time datetime="{escape(to_rfc3339(space.scheduled_start))}">{escape(status)}</time></p>'
    else:
        when = f"<p>{escape(status)}</p>"
    web_link = f' · <a href="{escape(links.web_url)}">Listen on the web</a>' if links.web_url else ""
    topics = "".join(f"<li>{escape(t)}</li>" for t in space.topics)
    return "\n".join([
        "<!doctype html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(space.title)} · {SITE_NAME}</title>",
        *tags,
        f'<link rel="canonical" href="{escape(links.page_url)}">',
        "</head>",
        "<body>",
        "<main>",
        f"<h1>{escape(space.title)}</h1>",
        f"<p>Hosted by {escape(host)}</p>",
        when,
        f'<ul class="topics">{topics}</ul>' if topics else "",
        f'<p><a href="{escape(links.app_url)}">Open in the Airwaves app</a>{web_link}</p>',
        "</main>",
        "</body>",
        "</html>",
    ])


def render_not_found() -> str:
    return "\n".join([
        "<!doctype html>", '<html lang="en">', '<head><meta charset="utf-8"><title>Not found · Airwaves</title>',
        '<meta name="robots" content="noindex"></head>',
        ("<body><main><h1>This Space is not here</h1><p>It may have been canceled, or the link is wrong.</p>"
         "</main></body>"), "</html>",
    ])
