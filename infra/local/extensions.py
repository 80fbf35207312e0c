"""The parts of the local stack each concern adds: importing a module registers its servers,
provisioning steps and loops with ``infra.local.stack``."""
import infra.local.livekit_server
import infra.local.media_worker  # the media worker beside livekit-server (livekit/worker)
import infra.local.scheduler_runner
import infra.local.stripe_mock  # stripe-mock at http://127.0.0.1:12111
import infra.local.web_app  # noqa: F401 - the web app at http://127.0.0.1:8080
