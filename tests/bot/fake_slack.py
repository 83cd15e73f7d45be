"""A fake Slack on 127.0.0.1: the Web API, the file-upload host and response_urls.

A real `ThreadingHTTPServer`, so slack-sdk talks to it over HTTP exactly as it talks to Slack.
It records every call and can be told to answer the next calls of a method with a 429 and
Retry-After, a 500 or 503, an API error such as `not_in_channel`, a dropped connection
("reset": nothing done), or a read timeout ("timeout": the call is carried out, then the answer
comes too late) — or, with `misbehave`, a seeded random share of all calls.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

BOT_USER = "U0SEGBOT"
CARRIED_OUT = (None, "timeout")  # failure modes after which Slack did act on the call
HTTP_MODES = ("429", "500", "503", "timeout", "reset")  # the rest are Web API error codes


@dataclass
class Call:
    """One request the fake received."""

    kind: str  # "api" | "upload" | "response"
    name: str  # API method, file id or response_url id
    body: bytes
    params: dict[str, Any]
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)
    failed_with: str | None = None  # the failure mode the fake answered with, if any


class FakeSlack:
    """Start with `with FakeSlack() as slack:`; point the bot at `slack.api_url`."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.socket_url: str | None = None  # returned by apps.connections.open
        self._failures: dict[str, list[str]] = {}
        self._chaos: tuple[float, tuple[str, ...], random.Random] | None = None
        self.stall = 2.0  # seconds a "timeout" answer waits: longer than the client's timeout
        self._changed = threading.Condition()
        self._file_ids = iter(range(1, 1_000_000))
        self._server = _Server(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        # polled often, so that leaving the `with` block does not wait half a second
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.02}, daemon=True)

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> FakeSlack:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    def response_url(self, name: str) -> str:
        return f"{self.base_url}/response/{name}"

    # -- switches ----------------------------------------------------------------------------

    def fail(self, name: str, *modes: str) -> None:
        """Answer the next calls of `name` (API method, "upload" or "response") with `modes`.

        A mode is "429" (rate limited, Retry-After: 1), "500", or an API error code.
        """
        with self._changed:
            self._failures.setdefault(name, []).extend(modes)

    def misbehave(self, share: float, modes: Sequence[str], *, seed: int) -> None:
        """From now on, answer a `share` of all calls with one of `modes`, drawn at random."""
        with self._changed:
            self._chaos = (share, tuple(modes), random.Random(seed))

    def behave(self) -> None:
        with self._changed:
            self._chaos = None

    def reset(self) -> None:
        with self._changed:
            self.calls.clear()
            self._failures.clear()
            self._chaos = None

    # -- inspection --------------------------------------------------------------------------

    def named(self, kind: str, name: str | None = None) -> list[Call]:
        with self._changed:
            return [c for c in self.calls if c.kind == kind and (name is None or c.name == name)]

    def responses(self, name: str) -> list[dict[str, Any]]:
        """The messages posted to response_url `name`, in order."""
        return [c.params for c in self.named("response", name)]

    def homes(self, user: str | None = None) -> list[dict[str, Any]]:
        """The Home views Slack accepted from views.publish (for `user`), in order."""
        return [_json(c.params.get("view")) for c in self.delivered("api", "views.publish")
                if (user is None or c.params.get("user_id") == user)
                and not home_view_problems(_json(c.params.get("view")))]

    def delivered(self, kind: str, name: str | None = None) -> list[Call]:
        """The calls Slack carried out (answered in time or not), as people would see them."""
        return [c for c in self.named(kind, name) if c.failed_with in CARRIED_OUT]

    def wait_for(self, condition: Callable[[], bool], timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not condition():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"fake Slack: condition not met in {timeout}s; "
                                         f"calls: {[(c.kind, c.name) for c in self.calls]}")
                self._changed.wait(remaining)

    def settle(self, quiet: float = 0.5, timeout: float = 20) -> None:
        """Wait until no request has arrived for `quiet` seconds: the bot is done."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._changed:
                last = max((c.at for c in self.calls), default=0.0)
            if time.monotonic() - last >= quiet:
                return
            time.sleep(quiet / 4)
        raise AssertionError("fake Slack never went quiet")

    # -- serving -----------------------------------------------------------------------------

    def _record(self, call: Call) -> str | None:
        with self._changed:
            self.calls.append(call)
            pending = self._failures.get(call.name) or self._failures.get(call.kind)
            mode = pending.pop(0) if pending else None
            if mode is None and self._chaos is not None:
                share, modes, draw = self._chaos
                if call.kind != "api":  # upload hosts and response_urls speak plain HTTP
                    modes = tuple(m for m in modes if m in HTTP_MODES)
                mode = draw.choice(modes) if draw.random() < share and modes else None
            call.failed_with = mode
            self._changed.notify_all()
            return mode

    def _api_answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {"ok": True, "url": "https://fake.slack.com/", "team": "Fake",
                    "user": "segbot", "team_id": "T0FAKE", "user_id": BOT_USER,
                    "bot_id": "B0SEGBOT"}
        if method == "files.getUploadURLExternal":
            file_id = f"F{next(self._file_ids):06d}"
            return {"ok": True, "file_id": file_id,
                    "upload_url": f"{self.base_url}/upload/{file_id}"}
        if method == "files.completeUploadExternal":
            files = json.loads(params.get("files", "[]"))
            return {"ok": True, "files": [{"id": f["id"], "title": f.get("title")}
                                          for f in files]}
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": "D0DIRECT" + params.get("users", "")[-4:]}}
        if method == "apps.connections.open":
            if self.socket_url is None:
                return {"ok": False, "error": "not_allowed_token_type"}
            return {"ok": True, "url": self.socket_url}
        if method == "chat.postMessage":
            return {"ok": True, "channel": params.get("channel"), "ts": f"{time.time():.6f}"}
        if method == "views.publish":
            view = _json(params.get("view"))
            problems = home_view_problems(view)
            if problems:
                return {"ok": False, "error": "invalid_arguments",
                        "response_metadata": {"messages": problems}}
            return {"ok": True, "view": {"id": f"V{next(self._file_ids):06d}", **view}}
        return {"ok": False, "error": "unknown_method"}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                kind, _, name = self.path.split("?")[0].strip("/").partition("/")
                kind = {"api": "api", "upload": "upload", "response": "response"}.get(kind)
                if kind is None:
                    return self._send(404, {"ok": False, "error": "not_found"})
                params = {} if kind == "upload" else _parse(
                    body, self.headers.get("Content-Type", ""))  # uploads are raw bytes
                call = Call(kind, name, body, params, dict(self.headers.items()))
                mode = fake._record(call)
                if mode == "429":
                    return self._send(429, {"ok": False, "error": "ratelimited"},
                                      {"Retry-After": "1"})
                if mode in ("500", "503"):
                    return self._send(int(mode), {"ok": False, "error": "internal_error"})
                if mode == "reset":  # hang up without an answer
                    self.close_connection = True
                    return None
                if mode == "timeout":  # carried out below, answered after the client gave up
                    time.sleep(fake.stall)
                elif mode is not None:
                    return self._send(200, {"ok": False, "error": mode})
                if kind == "api":
                    return self._send(200, fake._api_answer(name, call.params))
                if kind == "upload":
                    return self._send_text(200, f"OK - {len(body)}")
                return self._send_text(200, "ok")

            def _send(self, status: int, payload: dict[str, Any],
                      headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                try:
                    self._write(status, data, "application/json; charset=utf-8", headers)
                except OSError:  # the client hung up first (a "timeout")
                    self.close_connection = True

            def _send_text(self, status: int, text: str) -> None:
                try:
                    self._write(status, text.encode(), "text/plain; charset=utf-8", None)
                except OSError:
                    self.close_connection = True

            def _write(self, status: int, data: bytes, content_type: str,
                       headers: dict[str, str] | None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler


def _json(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str) else (value or {})


def home_view_problems(view: dict[str, Any]) -> list[str]:
    """What Slack would refuse in a Home view: Block Kit's limits for App Home surfaces."""
    blocks = view.get("blocks") or []
    problems = [] if view.get("type") == "home" else [f"type {view.get('type')!r} is not home"]
    if not 1 <= len(blocks) <= 100:
        problems.append(f"{len(blocks)} blocks: a Home holds 1 to 100")
    block_ids = [b["block_id"] for b in blocks if "block_id" in b]
    if len(block_ids) != len(set(block_ids)):
        problems.append("repeated block_id")
    for index, block in enumerate(blocks):
        problems += [f"block {index}: {problem}" for problem in _block_problems(block)]
    return problems


_TEXT_LIMITS = {"section": 3000, "header": 150}


def _block_problems(block: dict[str, Any]) -> list[str]:
    kind = block.get("type")
    problems = []
    text = (block.get("text") or {}).get("text")
    if kind in _TEXT_LIMITS and text is not None and not 0 < len(text) <= _TEXT_LIMITS[kind]:
        problems.append(f"{kind} text of {len(text)} characters")
    if len(block.get("block_id", "")) > 255:
        problems.append("block_id over 255 characters")
    if kind == "section" and text is None and not block.get("fields"):
        problems.append("section without text or fields")
    elements = block.get("elements") or []
    if kind == "context" and not 1 <= len(elements) <= 10:
        problems.append(f"context of {len(elements)} elements")
    if kind == "actions":
        action_ids = [e.get("action_id") for e in elements]
        if not 1 <= len(elements) <= 25 or len(set(action_ids)) != len(action_ids):
            problems.append("actions: 1 to 25 elements with distinct action_ids")
        problems += [f"button text of {len(e['text']['text'])} characters" for e in elements
                     if e.get("type") == "button" and not 0 < len(e["text"]["text"]) <= 75]
        problems += [f"menu of {len(e.get('options') or [])} options" for e in elements
                     if e.get("type") == "static_select" and not (
                         1 <= len(e.get("options") or []) <= 100
                         and all(len(o["text"]["text"]) <= 75 for o in e["options"])
                         and len(e["placeholder"]["text"]) <= 150)]
    if kind not in ("section", "header", "actions", "context", "divider", "image"):
        problems.append(f"unexpected block type {kind!r}")
    return problems


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # a burst of answers is accepted, as Slack's servers accept it


def _parse(body: bytes, content_type: str) -> dict[str, Any]:
    if "json" in content_type:
        return json.loads(body or b"{}")
    if "form" in content_type:
        return {k: v[0] for k, v in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()}
    return {}
