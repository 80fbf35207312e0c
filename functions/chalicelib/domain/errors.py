"""One error hierarchy for the whole app.

Domain rules and services raise these; the API edge translates them once into the contract's
error shape (``{"error": {"code", "message", "details"}}``). Each error carries its HTTP status so
the translation is a lookup, not a switch.
"""
from __future__ import annotations


class AirwavesError(Exception):
    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, details: object = None, code: str | None = None) -> None:
        """``details`` is JSON-serializable: the contract's ``error.details``."""
        super().__init__(message)
        self.message = message
        self.details = details
        if code is not None:
            self.code = code


class ValidationFailed(AirwavesError):
    status, code = 400, "validation_error"


class Unauthenticated(AirwavesError):
    status, code = 401, "unauthenticated"


class Forbidden(AirwavesError):
    status, code = 403, "forbidden"


class NotEligible(Forbidden):
    code = "not_eligible"


class Banned(Forbidden):
    code = "banned"


class TicketRequired(Forbidden):
    code = "ticket_required"


class ChatMuted(Forbidden):
    code = "chat_muted"


class NotFound(AirwavesError):
    status, code = 404, "not_found"


class Conflict(AirwavesError):
    status, code = 409, "conflict"


class InvalidState(Conflict):
    code = "invalid_state"


class SpeakerLimit(Conflict):
    code = "speaker_limit"


class SoldOut(Conflict):
    code = "sold_out"


class AlreadyExists(Conflict):
    code = "already_exists"


class RateLimited(AirwavesError):
    status, code = 429, "rate_limited"


class UpstreamUnavailable(AirwavesError):
    status, code = 503, "upstream_unavailable"


def field_error(field: str, message: str) -> ValidationFailed:
    """A validation error naming one bad field, in the same shape pydantic errors are reported."""
    return ValidationFailed(
        f"{field}: {message}", details=[{"field": field, "message": message}]
    )
