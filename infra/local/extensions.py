"""The parts of the local stack each concern adds: importing a module registers its servers,
provisioning steps and loops with ``infra.local.stack``."""
import infra.local.livekit_server  # noqa: E402,F401 - livekit-server at ws://127.0.0.1:7880
import infra.local.stripe_mock  # noqa: E402,F401 - stripe-mock at http://127.0.0.1:12111
import infra.local.scheduler_runner  # noqa: E402,F401 - schedules fire and the fan-out queue drains locally
