"""Builds adapters and services, lazily and once per Lambda container. Nothing else.

Every dependency is built on first use (``cached_property``) so a route pays only for what it
touches: a GET of a Space never imports Stripe or LiveKit. Each adapter is returned under the
port it provides, so mypy checks that it fits. Services receive ports and other services, never
callables. Tests build a fresh container with ``reset_container()``.
"""
from __future__ import annotations

from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING

from chalicelib.settings import Settings, get_settings

if TYPE_CHECKING:  # types only: each import below happens inside the builder that needs it
    from chalicelib.adapters.dynamodb.table import Table
    from chalicelib.domain.fees import FeeSchedule
    from chalicelib.domain.schedules import SchedulePolicy
    from chalicelib.domain.users import HostingPolicy
    from chalicelib.ports import (
        AudienceRepository,
        BigAccounts,
        BlockList,
        DeviceRepository,
        EventLog,
        FeedEntries,
        HealthProbe,
        LiveSegmentLinks,
        MediaServer,
        MediaStore,
        MemberRepository,
        MessageRepository,
        Metrics,
        PaymentAnomalies,
        PaymentGateway,
        PayoutRepository,
        PushGateway,
        RecordingRepository,
        ReminderRepository,
        Scheduler,
        SecretReader,
        SpaceRepository,
        TicketRepository,
        UserRepository,
        WorkQueue,
    )
    from chalicelib.services.background_jobs import BackgroundJobs, JobBatch
    from chalicelib.services.big_accounts import BigAccountFollows
    from chalicelib.services.captions import CaptionEngines
    from chalicelib.services.chat import ChatService
    from chalicelib.services.dev_payments import DevPayments
    from chalicelib.services.following_feed import FollowingFeed
    from chalicelib.services.health import HealthCheck
    from chalicelib.services.idempotency import ClaimLease, Idempotency
    from chalicelib.services.joins import JoinService
    from chalicelib.services.lifecycle import SpaceLifecycle
    from chalicelib.services.media_events import MediaEventService
    from chalicelib.services.moderation import ModerationService
    from chalicelib.services.notifications import DeviceService, Notifier
    from chalicelib.services.overflow import LiveHlsService, Overflow
    from chalicelib.services.participants import ParticipantsService
    from chalicelib.services.payouts import PayoutService
    from chalicelib.services.pins import PinService
    from chalicelib.services.reactions import ReactionService
    from chalicelib.services.recordings import ClipService, MediaPolicy, MediaWorkerService, ReplayService
    from chalicelib.services.reminders import ReminderService
    from chalicelib.services.safety import BlockService, ModerationRecords, ReportService
    from chalicelib.services.schedules import ScheduledHandlers, SpaceSchedules
    from chalicelib.services.share import ShareService
    from chalicelib.services.spaces import SpaceService
    from chalicelib.services.stage import StageService
    from chalicelib.services.stripe_webhooks import StripeWebhooks
    from chalicelib.services.tickets import TicketRefunds, TicketService
    from chalicelib.services.users import UserService


class Container:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()

    # -- infrastructure ----------------------------------------------------------------------
    @cached_property
    def secrets(self) -> SecretReader:
        from chalicelib.secrets import StageSecrets

        return StageSecrets()

    @cached_property
    def metrics(self) -> Metrics:
        from chalicelib.adapters.telemetry import EmfMetrics

        return EmfMetrics()

    @cached_property
    def event_log(self) -> EventLog:
        from chalicelib.adapters.telemetry import PowertoolsEventLog

        return PowertoolsEventLog(self.metrics)

    @cached_property
    def table(self) -> Table:
        from chalicelib.adapters.dynamodb.table import Table

        return Table(self.settings.table_name, region=self.settings.aws_region,
                     transaction_attempts=self.settings.dynamodb_transaction_attempts,
                     transaction_backoff_ms=self.settings.dynamodb_transaction_backoff_ms)

    @cached_property
    def media(self) -> MediaServer:
        """The media server; the LiveKit SDK loads on first use of a method that needs it."""
        from chalicelib.adapters.livekit import LiveKitMedia

        return LiveKitMedia.from_settings(self.settings, self.secrets)

    @cached_property
    def payment_gateway(self) -> PaymentGateway:
        """Stripe; the SDK, its client and its keys load on the first call that needs them."""
        from chalicelib.adapters.stripe import StripeGateway, StripeOptions

        s = self.settings
        return StripeGateway(self.secrets, StripeOptions(
            api_base=s.stripe_api_base, timeout_seconds=s.stripe_timeout_seconds,
            max_network_retries=s.stripe_max_network_retries, ephemeral_key_version=s.stripe_ephemeral_key_version))

    @cached_property
    def work_queue(self) -> WorkQueue:
        from chalicelib.adapters.queue import SqsQueue

        s = self.settings
        return SqsQueue(name=s.jobs_queue_name, url=s.jobs_queue_url, region=s.aws_region)

    @cached_property
    def scheduler(self) -> Scheduler:
        from chalicelib.adapters.scheduler import EventBridgeScheduler

        s = self.settings
        return EventBridgeScheduler(group=s.schedule_group, role_arn=s.scheduler_role_arn,
                                    dead_letter_arn=s.schedule_dead_letter_arn, region=s.aws_region)

    @cached_property
    def push(self) -> PushGateway:
        from chalicelib.adapters.push import SnsPush

        s = self.settings
        return SnsPush(applications={"apns": s.apns_platform_application_arn, "fcm": s.fcm_platform_application_arn},
                       region=s.aws_region)

    # -- repositories (DynamoDB) -------------------------------------------------------------
    @cached_property
    def user_repo(self) -> UserRepository:
        from chalicelib.adapters.dynamodb.users import DynamoUsers

        return DynamoUsers(self.table)

    @cached_property
    def space_repo(self) -> SpaceRepository:
        from chalicelib.adapters.dynamodb.spaces import DynamoSpaces

        return DynamoSpaces(self.table, max_live_per_host=self.settings.max_live_spaces_per_host)

    @cached_property
    def member_repo(self) -> MemberRepository:
        from chalicelib.adapters.dynamodb.members import DynamoMembers

        return DynamoMembers(self.table)

    @cached_property
    def ticket_repo(self) -> TicketRepository:
        from chalicelib.adapters.dynamodb.tickets import DynamoTickets

        return DynamoTickets(self.table, max_open_holds=self.settings.max_open_ticket_holds)

    @cached_property
    def payout_repo(self) -> PayoutRepository:
        from chalicelib.adapters.dynamodb.payouts import DynamoPayouts

        return DynamoPayouts(self.table)

    @cached_property
    def feed_repo(self) -> FeedEntries:
        from chalicelib.adapters.dynamodb.feed import DynamoFeed

        return DynamoFeed(self.table)

    @cached_property
    def big_accounts(self) -> BigAccounts:
        from chalicelib.adapters.dynamodb.big_accounts import DynamoBigAccounts

        return DynamoBigAccounts(self.table)

    @cached_property
    def device_repo(self) -> DeviceRepository:
        from chalicelib.adapters.dynamodb.devices import DynamoDevices

        return DynamoDevices(self.table)

    @cached_property
    def reminder_repo(self) -> ReminderRepository:
        from chalicelib.adapters.dynamodb.reminders import DynamoReminders

        return DynamoReminders(self.table)

    # -- rules from settings -------------------------------------------------------------------
    @cached_property
    def hosting_policy(self) -> HostingPolicy:
        from chalicelib.domain.users import HostingPolicy

        s = self.settings
        return HostingPolicy(min_followers=s.host_min_followers, ticketed_min_followers=s.ticketed_min_followers,
                             ticketed_min_age_years=s.ticketed_min_age_years,
                             ticketed_min_recent_spaces=s.ticketed_min_recent_spaces,
                             ticketed_recent_window_days=s.ticketed_recent_window_days)

    @cached_property
    def fee_schedule(self) -> FeeSchedule:
        from chalicelib.domain.fees import FeeSchedule

        return FeeSchedule.from_pairs(self.settings.fee_tiers)

    @cached_property
    def schedule_policy(self) -> SchedulePolicy:
        from chalicelib.domain.schedules import SchedulePolicy

        s = self.settings
        return SchedulePolicy(reminder_lead=timedelta(minutes=s.reminder_lead_minutes),
                              no_show_after=timedelta(minutes=s.no_show_minutes))

    # -- cross-cutting services ----------------------------------------------------------------
    @cached_property
    def idempotency(self) -> Idempotency:
        from chalicelib.adapters.dynamodb.idempotency import DynamoIdempotencyStore
        from chalicelib.services.idempotency import Idempotency

        return Idempotency(DynamoIdempotencyStore(self.table), ttl_seconds=self.settings.idempotency_ttl_seconds,
                           lease=self.claim_lease)

    @cached_property
    def claim_lease(self) -> ClaimLease:
        from chalicelib import invocation
        from chalicelib.services.idempotency import ClaimLease

        return ClaimLease(self.settings.claim_lease_seconds, invocation.remaining_ms)

    @cached_property
    def health(self) -> HealthCheck:
        from chalicelib.services.health import HealthCheck

        probes: dict[str, HealthProbe] = {
            "dynamodb": self.table, "livekit": self.media, "stripe": self.payment_gateway,
            "scheduler": self.scheduler, "push": self.push, "queue": self.work_queue}
        return HealthCheck(probes, cache_seconds=self.settings.health_cache_seconds)

    # -- the Space lifecycle -------------------------------------------------------------------
    @cached_property
    def lifecycle(self) -> SpaceLifecycle:
        from chalicelib.services.feed_events import FeedEvents
        from chalicelib.services.lifecycle import SpaceLifecycle
        from chalicelib.services.media_room import MediaRoom
        from chalicelib.services.recordings import MediaRecordings

        return SpaceLifecycle(media_room=MediaRoom(self.media), feed=FeedEvents(self.work_queue),
                              schedules=self.space_schedules, money=self.ticket_refunds,
                              recordings=MediaRecordings(self.media, self.space_repo, self.recording_repo,
                                                         self.media_policy))

    @cached_property
    def space_schedules(self) -> SpaceSchedules:
        from chalicelib.domain.schedules import ScheduleKind
        from chalicelib.services.schedules import SpaceSchedules

        s = self.settings
        targets = {ScheduleKind.reminder: s.space_reminder_function_arn, ScheduleKind.start: s.space_start_function_arn,
                   ScheduleKind.no_show: s.space_no_show_function_arn}
        return SpaceSchedules(self.scheduler, targets, self.schedule_policy, self.work_queue)

    @cached_property
    def ticket_refunds(self) -> TicketRefunds:
        from chalicelib.services.tickets import TicketRefunds

        return TicketRefunds(self.work_queue)

    # -- users and Spaces ----------------------------------------------------------------------
    @cached_property
    def users(self) -> UserService:
        from chalicelib.services.users import UserService

        return UserService(self.user_repo, self.hosting_policy, self.payouts, self.big_follows)

    @cached_property
    def big_follows(self) -> BigAccountFollows:
        from chalicelib.services.big_accounts import BigAccountFollows

        return BigAccountFollows(self.big_accounts, self.feed_repo, self.space_repo)

    @cached_property
    def following_feed(self) -> FollowingFeed:
        from chalicelib.services.following_feed import FollowingFeed

        return FollowingFeed(self.feed_repo, self.big_accounts, self.space_repo)

    @cached_property
    def spaces(self) -> SpaceService:
        from chalicelib.services.spaces import SpaceService

        return SpaceService(self.space_repo, self.user_repo, self.following_feed, self.hosting_policy, self.payouts,
                            lifecycle=self.lifecycle, max_ticket_quantity=self.settings.max_ticket_quantity,
                            max_live_per_host=self.settings.max_live_spaces_per_host,
                            default_language=self.settings.media_language)

    # -- live audio (LiveKit, the stage, moderation, presence) -----------------------------------
    @cached_property
    def joins(self) -> JoinService:
        from chalicelib.services.joins import JoinService

        return JoinService(self.member_repo, self.media, self.ticket_repo, blocks=self.block_list,
                           overflow=self.overflow, metrics=self.metrics)

    @cached_property
    def audience(self) -> AudienceRepository:
        from chalicelib.adapters.dynamodb.audience import DynamoAudience

        return DynamoAudience(self.table)

    @cached_property
    def overflow(self) -> Overflow:
        from chalicelib.services.overflow import Overflow

        s = self.settings
        return Overflow(self.audience, self.media, cap=s.webrtc_listener_cap, link_key=self.hls_link_key,
                        link_ttl=timedelta(seconds=s.hls_link_ttl_seconds), base_url=s.public_base_url,
                        seat_grace=timedelta(seconds=s.webrtc_seat_grace_seconds))

    def hls_link_key(self) -> str:
        """HLS listen links are signed with the cursor secret (in another scope: ``domain/hls.py``);
        the local stage falls back to a fixed key, as cursors do."""
        secret = self.secrets.get_secret("cursor_secret")
        if secret:
            return secret
        if not self.settings.is_local:
            raise RuntimeError("cursor_secret is missing from the stage's secrets")
        return "airwaves-local-cursor-key"

    @cached_property
    def live_hls(self) -> LiveHlsService:
        from chalicelib.services.overflow import LiveHlsService

        return LiveHlsService(self.member_repo, self.media_store, self.audience, self.hls_link_key,
                              segments=self.live_segment_links)

    @cached_property
    def live_segment_links(self) -> LiveSegmentLinks:
        """Through the CDN when one is configured (``hls_cdn_url``), else presigned S3 URLs."""
        s = self.settings
        ttl = timedelta(seconds=s.hls_segment_ttl_seconds)
        if s.hls_cdn_url:
            from chalicelib.adapters.cloudfront import CloudFrontSegmentLinks

            return CloudFrontSegmentLinks(s.hls_cdn_url, s.hls_cdn_key_id,
                                          lambda: self.secrets.get_secret("hls_cdn_private_key"), ttl)
        from chalicelib.services.overflow import PresignedSegmentLinks

        return PresignedSegmentLinks(self.media_store, ttl)

    @cached_property
    def stage(self) -> StageService:
        from chalicelib.adapters.dynamodb.rate_limits import DynamoRateLimits
        from chalicelib.services.stage import StageService

        return StageService(self.space_repo, self.member_repo, self.media, self.lifecycle, self.joins,
                            limits=DynamoRateLimits(self.table), hand_limit=self.settings.hand_limit,
                            hand_window_seconds=self.settings.hand_window_seconds)

    @cached_property
    def moderation(self) -> ModerationService:
        from chalicelib.services.moderation import ModerationService

        return ModerationService(self.member_repo, self.media, self.lifecycle, records=self.moderation_records)

    @cached_property
    def reactions(self) -> ReactionService:
        from chalicelib.adapters.dynamodb.rate_limits import DynamoRateLimits
        from chalicelib.services.reactions import ReactionService

        return ReactionService(self.member_repo, self.media, DynamoRateLimits(self.table), self.joins)

    # -- in-room messages and moderation ---------------------------------------------------------
    @cached_property
    def message_repo(self) -> MessageRepository:
        from chalicelib.adapters.dynamodb.messages import DynamoMessages

        return DynamoMessages(self.table)

    @cached_property
    def chat(self) -> ChatService:
        from chalicelib.adapters.dynamodb.rate_limits import DynamoRateLimits
        from chalicelib.services.chat import ChatService

        return ChatService(self.message_repo, self.user_repo, self.media, DynamoRateLimits(self.table), self.joins,
                           self.ticket_repo, self.block_list, self.moderation_records,
                           retention=timedelta(days=self.settings.chat_retention_days))

    @cached_property
    def block_list(self) -> BlockList:
        from chalicelib.adapters.dynamodb.safety import DynamoBlocks

        return DynamoBlocks(self.table)

    @cached_property
    def moderation_records(self) -> ModerationRecords:
        from chalicelib.adapters.dynamodb.safety import DynamoModerationLog
        from chalicelib.services.safety import ModerationRecords

        return ModerationRecords(DynamoModerationLog(self.table), self.space_repo,
                                 retention=timedelta(days=self.settings.chat_retention_days))

    @cached_property
    def reports(self) -> ReportService:
        from chalicelib.adapters.dynamodb.safety import DynamoReports
        from chalicelib.services.safety import ReportService

        return ReportService(DynamoReports(self.table), self.space_repo, self.message_repo)

    @cached_property
    def pins(self) -> PinService:
        from chalicelib.adapters.dynamodb.pins import DynamoPins
        from chalicelib.services.pins import PinService

        return PinService(self.space_repo, DynamoPins(self.table), self.media, self.moderation_records)

    @cached_property
    def share(self) -> ShareService:
        from chalicelib.services.share import ShareService

        s = self.settings
        return ShareService(self.space_repo, self.user_repo, public_base_url=s.public_base_url,
                            web_app_url=s.web_app_url)

    @cached_property
    def blocks(self) -> BlockService:
        from chalicelib.services.safety import BlockService

        return BlockService(self.block_list, self.user_repo)

    @cached_property
    def participants(self) -> ParticipantsService:
        from chalicelib.services.participants import ParticipantsService

        return ParticipantsService(self.space_repo, self.member_repo, self.media, self.joins)

    @cached_property
    def media_events(self) -> MediaEventService:
        from chalicelib.adapters.dynamodb.presence import DynamoPresence
        from chalicelib.services.media_events import MediaEventService

        return MediaEventService(self.member_repo, DynamoPresence(self.table), self.media, self.spaces,
                                 audience=self.audience, events=self.event_log)

    # -- recorded media (replays, clips, transcripts; the media worker's side) -------------------
    @cached_property
    def media_store(self) -> MediaStore:
        from chalicelib.adapters.media_store import S3MediaStore

        return S3MediaStore(self.settings.media_bucket, region=self.settings.aws_region)

    @cached_property
    def recording_repo(self) -> RecordingRepository:
        from chalicelib.adapters.dynamodb.recordings import DynamoRecordings

        return DynamoRecordings(self.table)

    @cached_property
    def caption_engines(self) -> CaptionEngines:
        from chalicelib.adapters.dynamodb.caption_engines import DynamoCaptionEngines
        from chalicelib.services.captions import CaptionEngines

        return CaptionEngines(DynamoCaptionEngines(self.table), cache_seconds=self.settings.health_cache_seconds)

    @cached_property
    def media_policy(self) -> MediaPolicy:
        from chalicelib.services.recordings import MediaPolicy

        s = self.settings
        return MediaPolicy(retention=timedelta(days=s.replay_retention_days),
                           url_ttl=timedelta(seconds=s.media_url_ttl_seconds), clip_seconds=s.clip_seconds,
                           clips_per_minute=s.clips_per_user_per_minute,
                           clip_timeout=timedelta(seconds=s.clip_timeout_seconds))

    @cached_property
    def media_worker(self) -> MediaWorkerService:
        from chalicelib.services.recordings import MediaWorkerService

        return MediaWorkerService(self.space_repo, self.recording_repo, self.media_store, self.media_policy)

    @cached_property
    def replays(self) -> ReplayService:
        from chalicelib.services.recordings import MediaAccess, ReplayService

        return ReplayService(self.space_repo, self.recording_repo, self.media_store, MediaAccess(self.ticket_repo),
                             self.media_policy)

    @cached_property
    def clips(self) -> ClipService:
        from chalicelib.adapters.dynamodb.rate_limits import DynamoRateLimits
        from chalicelib.services.recordings import ClipService, MediaAccess

        return ClipService(self.member_repo, self.recording_repo, self.media_store, MediaAccess(self.ticket_repo),
                           DynamoRateLimits(self.table), self.joins, self.media_policy)

    # -- money (Stripe Connect, tickets, webhooks) ------------------------------------------------
    @cached_property
    def payouts(self) -> PayoutService:
        from chalicelib.services.payouts import PayoutService

        s = self.settings
        return PayoutService(self.payout_repo, self.payment_gateway, self.fee_schedule,
                             refresh_url=s.payouts_refresh_url, return_url=s.payouts_return_url)

    @cached_property
    def tickets(self) -> TicketService:
        from chalicelib.adapters.dynamodb.processed_events import DynamoProcessedEvents
        from chalicelib.adapters.dynamodb.rate_limits import DynamoRateLimits
        from chalicelib.services.tickets import TicketService

        return TicketService(self.space_repo, self.ticket_repo, self.payout_repo, self.payment_gateway,
                             self.fee_schedule, hold=timedelta(minutes=self.settings.ticket_hold_minutes),
                             members=self.member_repo, users=self.user_repo, limits=DynamoRateLimits(self.table),
                             holds_per_hour=self.settings.ticket_holds_per_hour,
                             refund_claims=DynamoProcessedEvents(self.table), refund_lease=self.claim_lease,
                             metrics=self.metrics)

    @cached_property
    def stripe_webhooks(self) -> StripeWebhooks:
        from chalicelib.adapters.dynamodb.processed_events import DynamoProcessedEvents
        from chalicelib.services.stripe_webhooks import StripeWebhooks

        return StripeWebhooks(DynamoProcessedEvents(self.table), self.payment_gateway, self.tickets, self.payouts,
                              self.payment_anomalies, lease=self.claim_lease, events=self.event_log)

    @cached_property
    def payment_anomalies(self) -> PaymentAnomalies:
        from chalicelib.adapters.dynamodb.payment_anomalies import DynamoPaymentAnomalies

        return DynamoPaymentAnomalies(self.table)

    @cached_property
    def dev_payments(self) -> DevPayments:
        """Local stage only (the route checks): pay a ticket through the real webhook code."""
        from chalicelib.adapters.stripe_dev_events import StripeDevEvents
        from chalicelib.services.dev_payments import DevPayments

        return DevPayments(self.ticket_repo, StripeDevEvents(self.secrets), self.stripe_webhooks)

    # -- schedules, reminders, push and background jobs -----------------------------------------
    @cached_property
    def notifier(self) -> Notifier:
        from chalicelib.adapters.dynamodb.processed_events import DynamoProcessedEvents
        from chalicelib.services.notifications import Notifier

        return Notifier(self.device_repo, self.push, DynamoProcessedEvents(self.table), self.claim_lease)

    @cached_property
    def devices(self) -> DeviceService:
        from chalicelib.adapters.dynamodb.rate_limits import DynamoRateLimits
        from chalicelib.services.notifications import DeviceService

        return DeviceService(self.device_repo, self.push, DynamoRateLimits(self.table),
                             registrations_per_hour=self.settings.device_registrations_per_hour)

    @cached_property
    def reminders(self) -> ReminderService:
        from chalicelib.services.reminders import ReminderService

        return ReminderService(self.reminder_repo, self.space_repo)

    @cached_property
    def scheduled_handlers(self) -> ScheduledHandlers:
        from chalicelib.services.schedules import ScheduledHandlers

        return ScheduledHandlers(self.space_repo, self.spaces, self.notifier, self.work_queue, self.schedule_policy)

    @cached_property
    def background_jobs(self) -> BackgroundJobs:
        from chalicelib.adapters.dynamodb.rate_limits import DynamoRateLimits
        from chalicelib.services.background_jobs import BackgroundJobs
        from chalicelib.services.feed_fanout import FeedFanout
        from chalicelib.services.reminders import ReminderPushes

        s = self.settings
        feed = FeedFanout(self.space_repo, self.user_repo, self.feed_repo, self.big_accounts, self.notifier,
                          self.work_queue, big_threshold=s.big_host_followers, page_size=s.fanout_page_size,
                          limits=DynamoRateLimits(self.table),
                          live_pushes_per_host_per_hour=s.live_pushes_per_host_per_hour)
        reminders = ReminderPushes(self.reminder_repo, self.space_repo, self.user_repo, self.notifier,
                                   self.work_queue, page_size=s.fanout_page_size)
        return BackgroundJobs(feed, reminders, self.tickets, self.space_schedules, self.space_repo,
                              self.work_queue, refund_page_size=s.refund_page_size)

    @cached_property
    def job_batches(self) -> JobBatch:
        from chalicelib.services.background_jobs import JobBatch

        return JobBatch(self.background_jobs, self.work_queue, metrics=self.metrics, events=self.event_log)


_container: Container | None = None


def get_container() -> Container:
    global _container
    if _container is None:
        _container = Container()
    return _container


def reset_container(container: Container | None = None) -> Container:
    """Drop the cached container (tests, settings changes); optionally install ``container``."""
    global _container
    get_settings.cache_clear()
    _container = container or Container()
    return _container
