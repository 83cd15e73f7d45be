"""The bot's server (`segbot serve`): in Socket Mode when SLACK_APP_TOKEN is set, else over HTTP.

HTTP mode (forced with `--http`) is a Starlette app under uvicorn: `POST /slack/events` for
commands and buttons, and `GET /health`. Socket Mode answers `GET /health` too when $PORT (or
`--port`) is set, so one Procfile `web:` line serves either mode. `/health` is a liveness
check: 200 while the process serves, naming the current run or "no run yet"; 503 when the
store cannot be read. Of several bot processes on one store, only one runs the scheduled
refresh and digest (`bot.jobs.scheduler.start_scheduler_once`).
"""

from __future__ import annotations

import logging
import sqlite3
import sys
import threading
from concurrent.futures.process import BrokenProcessPool

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

from bot.answers.rendering import Renderer, render
from bot.jobs.chart_processes import ChartProcesses
from bot.jobs.scheduler import start_scheduler_once
from bot.settings import DEFAULT_PORT, Settings
from bot.slack.app import RENDER_SLOTS, create_app
from storage.errors import StoreError
from storage.store import Store

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/health"


def serve(settings: Settings, *, port: int | None = None) -> int:
    """Run the bot on the store at `settings.db_path` until interrupted; 2 if it cannot start.

    `port` (else $PORT) is the HTTP port, or in Socket Mode the port of `GET /health`.
    """
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    store = Store(settings.db_path)
    # 0: charts drawn in the bot's process; else the processes start once Slack took the token
    charts = ChartProcesses(settings.chart_processes) if settings.chart_processes else None
    try:
        return _serve(settings, store, charts, port or settings.port)
    finally:
        if charts is not None:
            charts.close()  # waits for the workers to exit
            log.info("chart processes stopped")


def _serve(settings: Settings, store: Store, charts: ChartProcesses | None,
           port: int | None) -> int:
    renderer: Renderer = charts or render
    try:  # checks the bot token with auth.test
        app = create_app(settings, store, renderer=renderer,
                         render_slots=charts.workers if charts else RENDER_SLOTS)
    except (BoltError, OSError) as error:
        print(f"segbot: cannot start: {error}", file=sys.stderr)
        return 2
    if charts is not None and not _started(charts):
        return 2
    handler = None
    if settings.socket_mode and (handler := _connect_socket_mode(app, settings)) is None:
        return 2
    stop = threading.Event()  # set on the way out: a scheduler standby stops asking
    lock = start_scheduler_once(settings, store, app.client, renderer=renderer, stop=stop)
    try:
        if handler is None:
            http_port = port or DEFAULT_PORT
            log.info("serving HTTP on port %s (%s, %s)%s", http_port, EVENTS_PATH, HEALTH_PATH,
                     "; SLACK_APP_TOKEN is not set, so not Socket Mode"
                     if settings.app_token is None else "")
            serve_until_stopped(build_http_server(app, store, host="0.0.0.0", port=http_port))
        elif port is None:
            stop.wait()  # the Socket Mode client's own threads serve and reconnect
        else:
            log.info("answering %s on port %s", HEALTH_PATH, port)
            serve_until_stopped(build_health_server(store, host="0.0.0.0", port=port))
    finally:
        stop.set()
        lock.release()
        if handler is not None:
            handler.close()
    return 0


def _connect_socket_mode(app: App, settings: Settings) -> SocketModeHandler | None:
    """The connected Socket Mode handler; None, said why, if Slack refuses the app token."""
    handler = socket_mode_handler(app, settings)
    try:
        handler.connect()
    except SlackApiError as error:
        print(f"segbot: cannot connect in Socket Mode: Slack answered "
              f"{error.response.get('error')!r} to apps.connections.open; check that "
              "SLACK_APP_TOKEN is the app-level token (xapp-) with connections:write",
              file=sys.stderr)
        return None
    log.info("connected to Slack in Socket Mode")
    return handler


def _started(charts: ChartProcesses) -> bool:
    """Start the chart processes (each draws a first chart); False, said why, if they fail."""
    try:
        charts.start()
    except (OSError, BrokenProcessPool) as error:
        print(f"segbot: cannot start {charts.workers} chart processes: {error}; set "
              "SEGBOT_CHART_PROCESSES=0 to draw charts in the bot's own process", file=sys.stderr)
        return False
    log.info("%d chart processes ready", charts.workers)
    return True


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

    return Starlette(routes=[Route(EVENTS_PATH, slack_events, methods=["POST"]),
                             health_route(store)])


def create_health_app(store: Store) -> Starlette:
    """Only the health check: what Socket Mode serves on $PORT."""
    return Starlette(routes=[health_route(store)])


def health_route(store: Store) -> Route:
    """`GET /health`: 200 while the process serves, with the current run; 503 if unreadable."""

    def health(request: Request) -> JSONResponse:
        try:
            run = store.current_run()
        except (StoreError, sqlite3.Error) as error:  # the store's errors name its path
            detail = str(error) if isinstance(error, StoreError) else \
                f"cannot read the store {store.path}: {error}"
            return JSONResponse({"status": "error", "detail": detail}, status_code=503)
        if run is None:  # a fresh deploy is alive while it waits for its first refresh
            return JSONResponse({"status": "ok", "run_id": None,
                                 "detail": "no run yet: run `segbot refresh --data FILE` or "
                                           "wait for the scheduled refresh"})
        return JSONResponse({"status": "ok", "run_id": run.id})

    return Route(HEALTH_PATH, health, methods=["GET"])


def serve_until_stopped(server: uvicorn.Server) -> None:
    """Serve until Ctrl-C (or SIGTERM), then raise KeyboardInterrupt as the signal would.

    uvicorn raises the signal it caught again once it has shut down, but when that lands as
    asyncio's loop ends, asyncio can swallow it and `segbot serve` would exit 0, not 130. The
    server only stops on a signal, so its return after a start means one arrived.
    """
    server.run()
    if server.started:
        raise KeyboardInterrupt


def build_http_server(app: App, store: Store, *, host: str, port: int) -> uvicorn.Server:
    """A uvicorn server for `create_web_app`; call `.run()` (or `.run(sockets=[...])`)."""
    return _uvicorn(create_web_app(app, store), host, port)


def build_health_server(store: Store, *, host: str, port: int) -> uvicorn.Server:
    """A uvicorn server for `create_health_app`; call `.run()` (or `.run(sockets=[...])`)."""
    return _uvicorn(create_health_app(store), host, port)


def _uvicorn(web_app: Starlette, host: str, port: int) -> uvicorn.Server:
    config = uvicorn.Config(web_app, host=host, port=port, log_level="info", access_log=False,
                            proxy_headers=True)
    return uvicorn.Server(config)
