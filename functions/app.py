"""The Airwaves Chalice app: registers the API blueprints and the contract's error handling.

Event handlers (webhooks, schedules, queues) register here too, each a thin entry that calls the
same services as the HTTP routes.
"""
from chalice import Chalice

from chalicelib.api.errors import contract_error_middleware
from chalicelib.api.routes import spaces, system, users
from chalicelib.api.routes import livekit_webhook, rooms
from chalicelib.api.routes import tickets

app = Chalice(app_name="airwaves")
app.register_middleware(contract_error_middleware, "http")
app.register_blueprint(system.bp)
app.register_blueprint(users.bp)
app.register_blueprint(spaces.bp)
app.register_blueprint(rooms.bp)
app.register_blueprint(livekit_webhook.bp)
app.register_blueprint(tickets.bp)
