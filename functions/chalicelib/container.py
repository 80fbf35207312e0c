"""Wires adapters into services, lazily and once per Lambda container.

Every dependency is built on first use (``cached_property``) so a route pays only for what it
touches: a GET of a Space never imports Stripe or LiveKit. Tests build a fresh container with
``reset_container()``.
"""
from __future__ import annotations

from functools import cached_property

from .domain.users import HostingPolicy
from .ports import SpaceLifecycle
from .settings import Settings, get_settings


class CompositeLifecycle:
    """Runs several lifecycles in order (media room first, then feed, schedules, money)."""

    def __init__(self, parts: list[SpaceLifecycle]) -> None:
        self.parts = parts

    def __getattr__(self, name: str):
        def each(*args, **kwargs) -> None:
            for part in self.parts:
                getattr(part, name)(*args, **kwargs)
        return each


class Container:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()

    # -- adapters ----------------------------------------------------------------------------
    @cached_property
    def table(self):
        from .adapters.dynamodb.table import Table

        return Table(self.settings.table_name, region=self.settings.aws_region)

    @cached_property
    def user_repo(self):
        from .adapters.dynamodb.users import DynamoUsers

        return DynamoUsers(self.table)

    @cached_property
    def space_repo(self):
        from .adapters.dynamodb.spaces import DynamoSpaces

        return DynamoSpaces(self.table)

    @cached_property
    def feed_repo(self):
        from .adapters.dynamodb.feed import DynamoFeed

        return DynamoFeed(self.table)

    @cached_property
    def idempotency(self):
        from .adapters.dynamodb.idempotency import DynamoIdempotencyStore
        from .services.idempotency import Idempotency

        return Idempotency(DynamoIdempotencyStore(self.table), ttl_seconds=self.settings.idempotency_ttl_seconds)

    # -- rules -------------------------------------------------------------------------------
    @cached_property
    def hosting_policy(self) -> HostingPolicy:
        s = self.settings
        return HostingPolicy(min_followers=s.host_min_followers, ticketed_min_followers=s.ticketed_min_followers,
                             ticketed_min_age_years=s.ticketed_min_age_years,
                             ticketed_min_recent_spaces=s.ticketed_min_recent_spaces,
                             ticketed_recent_window_days=s.ticketed_recent_window_days)

    def charges_enabled(self, user_id: str) -> bool:
        """Whether the user's payout account can take charges (as Stripe last told us)."""
        return self.payouts.charges_enabled(user_id)

    @cached_property
    def ticket_gate(self):
        """Who holds a paid ticket (the join check of ticketed Spaces asks this)."""
        from .adapters.dynamodb.tickets import DynamoTickets

        return DynamoTickets(self.table)

    # -- services ----------------------------------------------------------------------------
    @cached_property
    def lifecycle(self) -> CompositeLifecycle:
        from .services.feed import FanoutEvents
        from .services.media_room import MediaRoomLifecycle
        from .services.tickets import TicketRefunds

        return CompositeLifecycle([MediaRoomLifecycle(self.media), FanoutEvents(self.work_queue), self.space_schedules,
                                   TicketRefunds(self.work_queue)])

    @cached_property
    def users(self):
        from .services.feed import BigFollowTracking
        from .services.users import UserService

        return UserService(BigFollowTracking(self.user_repo, self.big_accounts), self.hosting_policy,
                           charges_enabled=self.charges_enabled)

    @cached_property
    def spaces(self):
        from .services.spaces import SpaceService

        return SpaceService(self.space_repo, self.user_repo, self.following_feed, self.hosting_policy,
                            lifecycle=self.lifecycle, charges_enabled=self.charges_enabled,
                            max_ticket_quantity=self.settings.max_ticket_quantity)

    # -- live audio (LiveKit, the stage, moderation, presence) -----------------------------------
    @cached_property
    def media(self):
        """The media server; the LiveKit SDK loads on first use of a method that needs it."""
        from .adapters.livekit import LiveKitMedia

        return LiveKitMedia.from_settings(self.settings)

    @cached_property
    def member_repo(self):
        from .adapters.dynamodb.members import DynamoMembers

        return DynamoMembers(self.table)

    @cached_property
    def joins(self):
        from .services.joins import JoinService

        return JoinService(self.member_repo, self.media,
                           has_paid_ticket=lambda space_id, user_id: self.ticket_gate.has_paid_ticket(space_id, user_id))

    @cached_property
    def stage(self):
        from .services.stage import StageService

        return StageService(self.space_repo, self.member_repo, self.media, self.lifecycle, admit=self.joins.admit)

    @cached_property
    def moderation(self):
        from .services.moderation import ModerationService

        return ModerationService(self.member_repo, self.media, self.lifecycle)

    @cached_property
    def reactions(self):
        from .adapters.dynamodb.rate_limits import DynamoRateLimits
        from .services.reactions import ReactionService

        return ReactionService(self.member_repo, self.media, DynamoRateLimits(self.table), admit=self.joins.admit)

    @cached_property
    def participants(self):
        from .services.participants import ParticipantsService

        return ParticipantsService(self.space_repo, self.member_repo, self.media)

    @cached_property
    def media_events(self):
        from .adapters.dynamodb.presence import DynamoPresence
        from .services.media_events import MediaEventService

        return MediaEventService(self.member_repo, DynamoPresence(self.table), self.media,
                                 end_space=lambda space_id: self.spaces.end(None, space_id))

    # -- money (Stripe Connect, tickets, webhooks) ------------------------------------------------
    @cached_property
    def payment_gateway(self):
        """Stripe; the SDK and its client load on the first call that needs them."""
        from .adapters.stripe import StripeConfig, StripeGateway
        from .secrets import get_secret

        s = self.settings
        return StripeGateway(lambda: StripeConfig(
            secret_key=get_secret("stripe_secret_key"), publishable_key=get_secret("stripe_publishable_key"),
            webhook_secrets=(get_secret("stripe_webhook_secret"), get_secret("stripe_connect_webhook_secret")),
            api_base=s.stripe_api_base, timeout_seconds=s.stripe_timeout_seconds,
            max_network_retries=s.stripe_max_network_retries, ephemeral_key_version=s.stripe_ephemeral_key_version))

    @cached_property
    def fee_schedule(self):
        from .domain.fees import FeeSchedule

        return FeeSchedule.from_pairs(self.settings.fee_tiers)

    @cached_property
    def payout_repo(self):
        from .adapters.dynamodb.payouts import DynamoPayouts

        return DynamoPayouts(self.table)

    @cached_property
    def payouts(self):
        from .services.payouts import PayoutService

        s = self.settings
        return PayoutService(self.payout_repo, lambda: self.payment_gateway, self.fee_schedule,
                             refresh_url=s.payouts_refresh_url, return_url=s.payouts_return_url)

    @cached_property
    def tickets(self):
        from datetime import timedelta

        from .services.tickets import TicketService

        return TicketService(self.space_repo, self.ticket_gate, self.payout_repo, lambda: self.payment_gateway,
                             self.fee_schedule, hold=timedelta(minutes=self.settings.ticket_hold_minutes))

    @cached_property
    def stripe_webhooks(self):
        from .adapters.dynamodb.processed_events import DynamoProcessedEvents
        from .services.stripe_webhooks import StripeWebhooks

        return StripeWebhooks(DynamoProcessedEvents(self.table), lambda: self.payment_gateway,
                              self.tickets, self.payouts)

    # -- schedules, reminders, push and the following feed ------------------------------------
    @cached_property
    def big_accounts(self):
        from .adapters.dynamodb.big_accounts import DynamoBigAccounts

        return DynamoBigAccounts(self.table)

    @cached_property
    def following_feed(self):
        from .services.feed import FollowingFeed

        return FollowingFeed(self.feed_repo, self.big_accounts, self.space_repo)

    @cached_property
    def work_queue(self):
        from .adapters.queue import SqsQueue

        s = self.settings
        return SqsQueue(name=s.fanout_queue_name, url=s.fanout_queue_url, region=s.aws_region)

    @cached_property
    def scheduler(self):
        from .adapters.scheduler import EventBridgeScheduler

        s = self.settings
        return EventBridgeScheduler(group=s.schedule_group, role_arn=s.scheduler_role_arn,
                                    dead_letter_arn=s.schedule_dead_letter_arn, region=s.aws_region)

    @cached_property
    def push(self):
        from .adapters.push import SnsPush

        s = self.settings
        return SnsPush(applications={"apns": s.apns_platform_application_arn, "fcm": s.fcm_platform_application_arn},
                       region=s.aws_region)

    @cached_property
    def device_repo(self):
        from .adapters.dynamodb.devices import DynamoDevices

        return DynamoDevices(self.table)

    @cached_property
    def reminder_repo(self):
        from .adapters.dynamodb.reminders import DynamoReminders

        return DynamoReminders(self.table)

    @cached_property
    def devices(self):
        from .services.notifications import DeviceService

        return DeviceService(self.device_repo, self.push)

    @cached_property
    def notifier(self):
        from .services.notifications import Notifier

        return Notifier(self.device_repo, self.push)

    @cached_property
    def reminders(self):
        from .services.reminders import ReminderService

        return ReminderService(self.reminder_repo, self.space_repo)

    @cached_property
    def schedule_policy(self):
        from datetime import timedelta

        from .domain.schedules import SchedulePolicy

        s = self.settings
        return SchedulePolicy(reminder_lead=timedelta(minutes=s.reminder_lead_minutes),
                              no_show_after=timedelta(minutes=s.no_show_minutes))

    @cached_property
    def space_schedules(self):
        from .domain.schedules import ScheduleKind
        from .services.schedules import SpaceSchedules

        s = self.settings
        targets = {ScheduleKind.reminder: s.space_reminder_function_arn, ScheduleKind.start: s.space_start_function_arn,
                   ScheduleKind.no_show: s.space_no_show_function_arn}
        return SpaceSchedules(self.scheduler, targets, self.schedule_policy, self.work_queue)

    @cached_property
    def scheduled_handlers(self):
        from .services.schedules import ScheduledHandlers

        return ScheduledHandlers(self.space_repo, self.notifier, self.work_queue,
                                 cancel=lambda space_id: self.spaces.cancel(None, space_id), policy=self.schedule_policy)

    @cached_property
    def fanout_worker(self):
        from .services.fanout import FanoutWorker

        s = self.settings
        return FanoutWorker(self.space_repo, self.user_repo, self.feed_repo, self.big_accounts, self.reminder_repo,
                            self.notifier, self.work_queue, sync_schedules=self.space_schedules.sync,
                            refund_page=lambda space_id, start: self.tickets.refund_page(
                                space_id, start, s.refund_page_size),
                            big_threshold=s.big_host_followers, page_size=s.fanout_page_size)

    @cached_property
    def fanout_consumer(self):
        from .services.fanout import QueueConsumer

        return QueueConsumer(self.fanout_worker, self.work_queue)

    def health_probes(self) -> dict:
        """What ``GET /v1/health`` checks; each adapter adds its own probe."""
        return {"dynamodb": lambda: self.table.call("describe_table"),
                "livekit": self.media.ping if getattr(self.media, "configured", True) else None,
                "stripe": self.payment_gateway.ping if self.payment_gateway.configured else None,
                "scheduler": self.scheduler.ping if self.scheduler.configured else None,
                "push": self.push.ping if self.push.applications else None,
                "queue": self.work_queue.depth}

    def host_join(self, space):
        """The host's join credentials for a live Space (the media adapter provides them)."""
        from .api.schemas import JoinOut

        grant = self.joins.host_credentials(space)
        return JoinOut(livekit_url=grant.livekit_url, token=grant.token, role=grant.role,
                       expires_at=grant.expires_at)

    def cursors(self, scope: str):
        """Signed cursors for the list named ``scope`` (e.g. ``tickets:<user>``)."""
        from .cursors import PageCursors
        from .secrets import get_secret

        secret = get_secret("cursor_secret")
        if not secret and not self.settings.is_local:
            raise RuntimeError("cursor_secret is missing from the stage's secrets")
        return PageCursors(scope, secret or "airwaves-local-cursor-key")


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
