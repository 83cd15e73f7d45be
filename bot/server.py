"""`segbot serve`: the bot in Socket Mode (the default) or over HTTP with `--http`.

One process serves Slack; run exactly one, so that the scheduled refresh and digest run once.
HTTP mode is a Starlette app under uvicorn: `POST /slack/events` for commands and buttons,
`GET /health` saying whether the store has a published run.
"""

from __future__ import annotations

import argparse
import logging
import sqlite3
import sys
import threading
from collections.abc import Mapping

import uvicorn
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_bolt.error import BoltError
from slack_sdk.errors import SlackApiError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.app import create_app
from bot.scheduling import start_scheduler
from bot.settings import Settings, SettingsError, load_settings
from storage.errors import StoreError
from storage.store import Store

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/health"


def serve_command(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """Run the bot until interrupted; exit code 2 with every problem when misconfigured."""
    try:
        settings = load_settings(environ, require_slack=True, http=args.http)
    except SettingsError as error:
        print(f"segbot: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    store = Store(args.db or settings.db_path)  # --db, else $SEGBOT_DB, else ./segbot.db
    try:
        app = create_app(settings, store)  # checks the bot token with auth.test
    except (BoltError, OSError) as error:
        print(f"segbot: cannot start: {error}", file=sys.stderr)
        return 2
    if args.http:
        port = args.port or settings.port
        log.info("serving HTTP on port %s (%s, %s)", port, EVENTS_PATH, HEALTH_PATH)
        start_scheduler(settings, store, app.client)  # scheduled refresh and digest
        build_http_server(app, store, host="0.0.0.0", port=port).run()
    else:
        handler = socket_mode_handler(app, settings)
        try:
            handler.connect()
        except SlackApiError as error:
            print(f"segbot: cannot connect in Socket Mode: Slack answered "
                  f"{error.response.get('error')!r} to apps.connections.open; check that "
                  "SLACK_APP_TOKEN is the app-level token (xapp-) with connections:write",
                  file=sys.stderr)
            return 2
        log.info("connected to Slack in Socket Mode")
        start_scheduler(settings, store, app.client)  # scheduled refresh and digest
        threading.Event().wait()  # the client's own threads serve and reconnect
    return 0


def socket_mode_handler(app: App, settings: Settings) -> SocketModeHandler:
    """Socket Mode over a websocket from `apps.connections.open` on the app's Web API client."""
    return SocketModeHandler(app, settings.app_token, web_client=app.client)


def create_web_app(app: App, store: Store) -> Starlette:
    """The HTTP endpoints: Slack's requests to the Bolt app, and a health check."""

    async def slack_events(request: Request) -> Response:
        body = await request.body()
        # Bolt's dispatch blocks until ack(); keep it off the event loop so that one slow
        # request never holds up another's acknowledgement.
        bolt_response = await run_in_threadpool(app.dispatch, to_bolt_request(request, body))
        return to_starlette_response(bolt_response)

    def health(request: Request) -> JSONResponse:
        try:
            run = store.current_run()
        except (StoreError, sqlite3.Error) as error:
            return JSONResponse({"status": "error", "detail": str(error)}, status_code=503)
        if run is None:
            return JSONResponse({"status": "no published run",
                                 "detail": "run `segbot refresh --data FILE`"}, status_code=503)
        return JSONResponse({"status": "ok", "run_id": run.id})

    return Starlette(routes=[Route(EVENTS_PATH, slack_events, methods=["POST"]),
                             Route(HEALTH_PATH, health, methods=["GET"])])


def build_http_server(app: App, store: Store, *, host: str, port: int) -> uvicorn.Server:
    """A uvicorn server for `create_web_app`; call `.run()` (or `.run(sockets=[...])`)."""
    config = uvicorn.Config(create_web_app(app, store), host=host, port=port,
                            log_level="info", access_log=False, proxy_headers=True)
    return uvicorn.Server(config)
