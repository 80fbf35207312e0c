"""Typed settings, read once from the environment.

``chalicefile.json`` sets the environment per stage; nothing else configures the app. Secrets in
deployed stages come from Secrets Manager at run time (``secrets.py``), never from here.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AIRWAVES_", extra="ignore")

    stage: Literal["local", "dev", "prod", "test"] = "local"
    table_name: str = "airwaves"
    aws_region: str = "us-east-1"

    # Hosting rules
    host_min_followers: int = 600
    ticketed_min_followers: int = 1000
    ticketed_min_age_years: int = 18
    ticketed_min_recent_spaces: int = 3
    ticketed_recent_window_days: int = 30

    # Tickets and payouts. Fee tiers: ``[[threshold_cents, rate_bps], ..., [null, rate_bps]]`` on
    # the creator's lifetime gross (JSON in the environment); see ``domain/fees.py``.
    max_ticket_quantity: int = 10_000
    ticket_hold_minutes: int = 15
    fee_tiers: list[tuple[int | None, int]] = [(5_000_000, 300), (None, 2_000)]
    # Stripe: empty ``stripe_api_base`` is Stripe itself (the local stage points it at stripe-mock).
    # Keys and webhook secrets are secrets (``stripe_secret_key``, ``stripe_publishable_key``,
    # ``stripe_webhook_secret``, ``stripe_connect_webhook_secret``).
    stripe_api_base: str = ""
    stripe_timeout_seconds: float = 10.0
    stripe_max_network_retries: int = 2
    stripe_ephemeral_key_version: str = ""
    payouts_refresh_url: str = "https://airwaves.example/payouts/refresh"
    payouts_return_url: str = "https://airwaves.example/payouts/return"

    # Auth: HS256 with a dev secret locally, RS256 from a JWKS elsewhere.
    auth_mode: Literal["hs256", "jwks"] = "hs256"
    jwt_dev_secret: str = ""
    jwt_jwks_url: str = ""
    jwt_issuer: str = ""
    jwt_audience: str = ""
    dev_token_ttl_seconds: int = 12 * 3600

    # Deployed stages keep secrets in one Secrets Manager JSON secret.
    secrets_arn: str = ""

    idempotency_ttl_seconds: int = 24 * 3600
    # How long an in-progress Idempotency-Key or webhook-event claim holds (never past the Lambda
    # invocation's own deadline): after it, a retry runs the work again (its process has died).
    claim_lease_seconds: int = 60

    # LiveKit: where apps connect, where the API calls it (empty: same host over http(s)), how
    # long a join token lets a client connect, and when an idle room closes by itself. The API
    # key and secret are secrets (``livekit_api_key``, ``livekit_api_secret``).
    livekit_url: str = "ws://127.0.0.1:7880"
    livekit_api_url: str = ""
    livekit_token_ttl_seconds: int = 300
    livekit_empty_timeout_seconds: int = 300
    livekit_departure_timeout_seconds: int = 60
    livekit_api_timeout_seconds: float = 5.0
    page_size: int = 20

    # Schedules per Space (EventBridge Scheduler one-time ``at()`` schedules in one group). The
    # targets are the Chalice functions ``space_reminder``, ``space_start`` and ``space_no_show``;
    # Scheduler assumes ``scheduler_role_arn`` to invoke them. Empty ARNs: not configured.
    schedule_group: str = "airwaves-spaces"
    scheduler_role_arn: str = ""
    schedule_dead_letter_arn: str = ""
    space_reminder_function_arn: str = ""
    space_start_function_arn: str = ""
    space_no_show_function_arn: str = ""
    reminder_lead_minutes: int = 30
    no_show_minutes: int = 60
    # Background jobs (go-live fan-out, feed entries, reminder pushes, refunds of a canceled Space,
    # schedule syncs) go through this SQS queue; its dead-letter queue is ``<name>-dlq``. An empty
    # URL is looked up by name. A fan-out page reaches at most ``fanout_page_size`` people.
    jobs_queue_name: str = "airwaves-jobs"
    jobs_queue_url: str = ""
    fanout_page_size: int = 100
    # Tickets refunded per queue message when a Space is canceled: a batch of ten messages, each
    # a Stripe call per ticket, must fit well inside the fan-out Lambda's 60 s timeout.
    refund_page_size: int = 5
    # Push: SNS platform applications (empty: that platform is not offered).
    apns_platform_application_arn: str = ""
    fcm_platform_application_arn: str = ""
    # Hosts (and co-hosts, speakers) with at least this many followers are merged into their
    # followers' "following" feed at read time instead of being fanned out on write.
    big_host_followers: int = 10_000
    # In-room messages (and the moderation log) expire by DynamoDB TTL this long after they
    # were written: the Space's chat retention.
    chat_retention_days: int = 30
    # Share pages (``GET /s/{id}``): where the API is publicly reached (empty: the page's links
    # are relative). A share page links into ``web_app_url`` when set, and mobile apps open
    # ``airwaves://spaces/<id>``.
    public_base_url: str = ""

    # Browsers: the web app origins allowed to call the API (CORS; JSON list in the environment,
    # exact ``scheme://host[:port]`` values, none by default) and where the web app lives (the
    # API root links to it; empty: not hosted).
    cors_allowed_origins: list[str] = []
    web_app_url: str = ""

    # Recorded media (issue 13): the bucket the media worker writes to (``spaces/<id>/...``), how long
    # a replay stays after its Space ends (the bucket's lifecycle rule keeps objects a day longer),
    # how long the URLs the API answers stay valid, how long a clip is, and the language (BCP 47) a
    # Space is created with when its host names none (each Space carries its own ``language``).
    # The worker authenticates to ``/internal/media/...`` with the secret ``media_worker_secret``.
    media_bucket: str = ""
    replay_retention_days: int = 30
    media_url_ttl_seconds: int = 6 * 3600
    clip_seconds: int = 30
    clips_per_user_per_minute: int = 6
    clip_timeout_seconds: int = 120
    media_language: str = "en"

    # Audiences past one media node (issue 16). A Space's room lives on one LiveKit node, so its
    # WebRTC listeners are capped at what one node carries; past the cap a listener's join answers
    # HLS from the media worker. 1,500: the README's "Sizing" measured ~1,025 listeners per server
    # core at 80% CPU, so ~770 at the cluster's 60% target, x 2 physical cores of a c6i.xlarge.
    # HLS links are valid ``hls_link_ttl_seconds`` (the app joins again for a fresh one, and
    # WebRTC if a seat is free then); segment URLs in the live playlist for ``hls_segment_ttl_seconds``.
    # A seat nobody connected to within ``webrtc_seat_grace_seconds`` of the join that took it is
    # freed when the Space is full (an app connects within seconds; 90 s leaves slow networks room).
    webrtc_listener_cap: int = 1500
    webrtc_seat_grace_seconds: int = 90
    hls_link_ttl_seconds: int = 600
    hls_segment_ttl_seconds: int = 120
    # A CDN in front of live segments (deployed: CloudFront, when HlsCdnPublicKey is set): its
    # https origin and the id of the public key whose private half is the secret
    # ``hls_cdn_private_key``. Empty: segments are presigned S3 URLs per listener.
    hls_cdn_url: str = ""
    hls_cdn_key_id: str = ""

    # Abuse limits (each answered 429 ``rate_limited`` or 409 in the contract's error shape).
    # Unpaid ticket holds: new ones a person may take an hour, and how many they may hold at
    # once across Spaces (each blocks a seat for ``ticket_hold_minutes``).
    ticket_holds_per_hour: int = 10
    max_open_ticket_holds: int = 3
    # Push device registrations per person an hour (each creates an SNS endpoint).
    device_registrations_per_hour: int = 20
    # "Is live" pushes one follower gets from one host an hour (later ones are not sent).
    live_pushes_per_host_per_hour: int = 3
    # Live Spaces one host may have open at once (creating or starting another is 409).
    max_live_spaces_per_host: int = 1
    # Raising or lowering a hand: at most ``hand_limit`` per person and Space per window.
    hand_limit: int = 6
    hand_window_seconds: int = 60
    # Public ``GET /v1/health`` answers a deep check at most this old (admins: /v1/admin/health).
    health_cache_seconds: float = 30.0
    # A DynamoDB transaction canceled only by TransactionConflict (another request changing one of
    # its items at that moment; nothing was written) is sent again, at most this many attempts in
    # all, after a full-jitter backoff from ``dynamodb_transaction_backoff_ms`` doubling per try.
    # Condition failures are never retried.
    dynamodb_transaction_attempts: int = 8
    dynamodb_transaction_backoff_ms: float = 20.0

    @property
    def is_local(self) -> bool:
        return self.stage in ("local", "test")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
