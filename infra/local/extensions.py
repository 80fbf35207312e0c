"""The parts of the local stack each concern adds: importing a module registers its servers,
provisioning steps and loops with ``infra.local.stack``."""
import infra.local.livekit_server
import infra.local.scheduler_runner
import infra.local.stripe_mock  # noqa: F401 - stripe-mock at http://127.0.0.1:12111
