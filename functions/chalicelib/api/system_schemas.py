"""Models of the API root and the local stage's dev-only helpers."""
from __future__ import annotations

from pydantic import Field

from chalicelib.api.schemas import Out
from chalicelib.domain.tickets import TicketStatus


class ApiRootOut(Out):
    """What ``GET /`` answers: where to go next (instead of API Gateway's bare 403)."""

    name: str = "Airwaves API"
    stage: str
    message: str
    docs_url: str = Field(description="human-readable docs (Swagger UI, served offline)")
    openapi_url: str
    health_url: str
    web_app_url: str | None = Field(description="the web app, when this stage hosts one")


class DevPaymentOut(Out):
    """A ticket after its payment was completed through the real Stripe webhook code."""

    ticket_id: str
    space_id: str
    status: TicketStatus
    webhook_event_id: str
    webhook_outcome: str = Field(description="what the webhook handler did (`paid`, `already_paid`, ...)")
