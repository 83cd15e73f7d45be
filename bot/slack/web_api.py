"""How segbot talks to Slack: which calls may be repeated, file uploads, and what errors mean.

Slack does not deduplicate posts. A `chat.postMessage`, a `files.completeUploadExternal` or a
post to a `response_url` that fails after reaching Slack (a 5xx, a read timeout, a dropped
connection) may have been carried out, so repeating it can post twice. Those are repeated only
when Slack certainly did not act: a 429 (after its Retry-After) or a connection that never
opened. Every other call (reading, opening a DM, asking for an upload URL, sending a file's
bytes) changes nothing visible and is repeated on any passing failure.

Errors are explained for the person who can fix them: a missing scope or a revoked token needs a
workspace admin, and saying "try again" would only waste their time; a 5xx or a timeout passes.
"""

from __future__ import annotations

import logging
import socket
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from http.client import HTTPException
from typing import Any, TypeVar
from urllib.error import HTTPError, URLError
from urllib.parse import urlparse

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError, SlackRequestError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.webhook import WebhookClient

log = logging.getLogger(__name__)
T = TypeVar("T")

TIMEOUT = 30  # seconds per HTTP call to Slack
RATE_LIMIT_RETRIES = 3
CONNECT_RETRIES = 2
TRANSIENT_RETRIES = 2
UPLOAD_ATTEMPTS = 3  # the bytes of one file, to its upload URL

# Web API methods that post something people see: never repeated after they may have acted.
POSTING_METHODS = frozenset({
    "chat.postMessage", "chat.postEphemeral", "chat.scheduleMessage", "chat.meMessage",
    "files.completeUploadExternal", "files.upload",
})


# -- retries -------------------------------------------------------------------------------


def never_reached_slack(error: BaseException) -> bool:
    """Whether the request certainly never arrived whole, so Slack cannot have acted on it.

    urllib wraps in `URLError` what fails while connecting or sending (refused, unknown host,
    a connect timeout); what fails while waiting for the answer (a read timeout, a dropped
    connection) comes unwrapped, and by then Slack may have done the work.
    """
    if isinstance(error, HTTPError):
        return False  # Slack answered
    if isinstance(error, URLError):
        return isinstance(error.reason, OSError)
    return isinstance(error, ConnectionRefusedError | socket.gaierror)


def api_method(url: str) -> str:
    """The Web API method a request URL calls (`…/api/chat.postMessage` → chat.postMessage)."""
    return urlparse(url).path.rstrip("/").rsplit("/", 1)[-1]


class ConnectFailureRetry(RetryHandler):
    """Repeat a request whose connection never opened: Slack cannot have acted on it."""

    def _can_retry(self, *, state: Any, request: HttpRequest,
                   response: HttpResponse | None = None,
                   error: Exception | None = None) -> bool:
        return response is None and error is not None and never_reached_slack(error)


class RepeatableCallRetry(RetryHandler):
    """Repeat a call that changes nothing visible after a 5xx, a timeout or a dropped line."""

    def _can_retry(self, *, state: Any, request: HttpRequest,
                   response: HttpResponse | None = None,
                   error: Exception | None = None) -> bool:
        if api_method(request.url) in POSTING_METHODS:
            return False
        if response is not None:
            return response.status_code >= 500
        return error is not None and isinstance(error, OSError | HTTPException)


def api_retry_handlers() -> list[RetryHandler]:
    """For the Web API: 429s and unopened connections always; the rest only if repeatable."""
    return [RateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
            ConnectFailureRetry(max_retry_count=CONNECT_RETRIES),
            RepeatableCallRetry(max_retry_count=TRANSIENT_RETRIES)]


def posting_retry_handlers() -> list[RetryHandler]:
    """For response_urls, where every call posts: 429s and unopened connections only."""
    return [RateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
            ConnectFailureRetry(max_retry_count=CONNECT_RETRIES)]


def build_web_client(token: str | None, base_url: str, *, timeout: int = TIMEOUT) -> WebClient:
    """The Web API client, with segbot's retry rules."""
    return WebClient(token=token, base_url=base_url, timeout=timeout,
                     retry_handlers=api_retry_handlers())


# -- response_url --------------------------------------------------------------------------


class Posted(Enum):
    """What became of a post: delivered, certainly not delivered, or nobody can tell."""

    DELIVERED = "delivered"
    NOT_DELIVERED = "not delivered"
    UNKNOWN = "unknown"


class ResponseUrl:
    """Posts messages to one response_url; a post is repeated only when it never arrived."""

    def __init__(self, url: str, *, timeout: int = TIMEOUT):
        self.url = url
        self._client = WebhookClient(url, timeout=timeout,
                                     retry_handlers=posting_retry_handlers())

    def post(self, message: dict[str, Any]) -> Posted:
        """Post `message` once; what became of it."""
        try:
            response = self._client.send_dict(message)
        except (SlackClientError, OSError, HTTPException) as error:
            log.warning("response_url post failed: %s", error)
            return Posted.NOT_DELIVERED if never_reached_slack(error) else Posted.UNKNOWN
        if response.status_code == 200:
            return Posted.DELIVERED
        log.warning("response_url answered %s: %s", response.status_code,
                    (response.body or "")[:200])
        return Posted.UNKNOWN if response.status_code >= 500 else Posted.NOT_DELIVERED


class ChannelPost:
    """Posts messages with chat.postMessage to one conversation, as `ResponseUrl` posts to a
    response_url: what a click on the Home tab is answered with, since it comes without one."""

    def __init__(self, client: WebClient, channel: str):
        self.client = client
        self.channel = channel

    def post(self, message: dict[str, Any]) -> Posted:
        """Post `message` (its text and blocks) once; what became of it."""
        try:
            post_once("a message", lambda: self.client.chat_postMessage(
                channel=self.channel, text=message.get("text", ""),
                blocks=message.get("blocks")))
        except Unconfirmed as error:
            log.warning("message to %s unconfirmed: %s", self.channel, describe(error.cause))
            return Posted.UNKNOWN
        except (SlackClientError, OSError, HTTPException) as error:
            log.warning("message to %s failed: %s", self.channel, describe(error))
            return Posted.NOT_DELIVERED
        return Posted.DELIVERED


# -- files ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    """One file to share: its bytes, name, title and the text screen readers read."""

    content: bytes
    filename: str
    title: str
    alt_text: str = ""


class UploadFailed(SlackRequestError):
    """A file's bytes could not be sent to its upload URL; nothing was shared."""


class Unconfirmed(SlackClientError):
    """A post failed in a way Slack may still have carried out: never to be repeated blindly."""

    def __init__(self, what: str, cause: BaseException):
        self.what = what
        self.cause = cause
        super().__init__(f"Slack did not confirm {what} ({describe(cause)})")


def certainly_not_posted(error: BaseException) -> bool:
    """Whether a failed post certainly did nothing: Slack answered with an error, or was
    never reached. A 5xx, a timeout or a dropped connection may have posted."""
    if isinstance(error, SlackApiError):
        return error.response.status_code < 500
    return never_reached_slack(error)


def post_once(what: str, call: Callable[[], T]) -> T:
    """Make a posting call; a failure that may have posted becomes `Unconfirmed`."""
    try:
        return call()
    except (SlackClientError, OSError, HTTPException) as error:
        if certainly_not_posted(error):
            raise
        raise Unconfirmed(what, error) from error


def describe(error: BaseException) -> str:
    """A short description of a Slack failure for logs and the store (no tokens in it)."""
    if isinstance(error, SlackApiError):
        return f"slack: {error.response.get('error') or error.response.status_code}"
    return f"{type(error).__name__}: {error}"[:300]


def upload_files(client: WebClient, channel: str, uploads: Sequence[Upload], *,
                 sleep: Callable[[float], None] = time.sleep) -> None:
    """Share `uploads` in `channel` as one message: `files_upload_v2`'s three steps.

    Written out because slack_sdk sends the bytes (step 2) without any retry; they are safe to
    send again until step 3 shares the files, which runs once.
    """
    if not uploads:
        return
    shared = []
    for upload in uploads:
        slot = client.files_getUploadURLExternal(filename=upload.filename,
                                                 length=len(upload.content),
                                                 alt_txt=upload.alt_text[:1000] or None)
        send_bytes(client, slot["upload_url"], upload, sleep=sleep)
        shared.append({"id": slot["file_id"], "title": upload.title})
    names = ", ".join(upload.filename for upload in uploads)
    post_once(f"that {names} was shared",
              lambda: client.files_completeUploadExternal(files=shared, channel_id=channel))


def send_bytes(client: WebClient, url: str, upload: Upload, *,
               sleep: Callable[[float], None] = time.sleep) -> None:
    """POST a file's bytes to its upload URL, repeating passing failures; raise UploadFailed."""
    retry_after = ""  # the last answer's Retry-After, if it gave one
    for attempt in range(UPLOAD_ATTEMPTS):
        if attempt:
            sleep(wait_before_retry(retry_after, attempt))
        try:
            status = _post_bytes(url, upload.content, timeout=client.timeout, proxy=client.proxy)
        except HTTPError as error:
            status, retry_after = error.code, error.headers.get("Retry-After", "") or ""
        except (URLError, OSError, HTTPException) as error:
            status, retry_after = 0, ""
            log.warning("upload of %s: %s (attempt %d)", upload.filename, error, attempt + 1)
        if status == 200:
            return
        if 400 <= status < 500 and status != 429:
            break  # refused: sending the same bytes again is refused again
    raise UploadFailed(f"could not send {upload.filename} to Slack's upload URL "
                       f"after {attempt + 1} attempt(s)")


def wait_before_retry(retry_after: str, attempt: int) -> float:
    """Seconds to wait before the next attempt: Retry-After when given, else a backoff."""
    return float(retry_after) if retry_after.isdigit() else 0.5 * 2 ** (attempt - 1)


def _post_bytes(url: str, data: bytes, *, timeout: float, proxy: str | None) -> int:
    handlers = [urllib.request.ProxyHandler({"http": proxy, "https": proxy})] if proxy else []
    opener = urllib.request.build_opener(*handlers)
    request = urllib.request.Request(url, data=data, method="POST",
                                     headers={"Content-Type": "application/octet-stream"})
    with opener.open(request, timeout=timeout) as response:
        response.read()
        return int(response.status)


def direct_channel(client: WebClient, user_id: str) -> str:
    """The ID of the direct-message channel between the bot and `user_id`."""
    return str(client.conversations_open(users=user_id)["channel"]["id"])


# -- what errors mean ----------------------------------------------------------------------

INVITE = "invite me with `/invite @segbot`"
NOT_A_MEMBER = frozenset({"not_in_channel", "channel_not_found"})
BAD_TOKEN = ("segbot's Slack token is no longer valid ({code}): whoever runs segbot must "
             "reinstall the app and set the new SLACK_BOT_TOKEN")
ADMIN_FIXES = {
    "missing_scope": "segbot's Slack app lacks a permission{needed}: a workspace admin must "
                     "add it under OAuth & Permissions and reinstall the app",
    "posting_to_channel_denied": "only some members may post in this channel: a channel "
                                 "manager must allow segbot to post here",
    "restricted_action": "a workspace policy stops segbot posting here: a workspace admin "
                         "must allow it",
    "file_type_not_allowed": "this workspace does not allow this type of file: a workspace "
                             "admin must allow it in the file upload settings",
    "file_uploads_disabled": "file uploads are turned off in this workspace: a workspace "
                             "admin must turn them on",
    "file_uploads_except_images_disabled": "this workspace allows only images to be uploaded: "
                                           "a workspace admin must allow other files",
    "is_archived": "the channel is archived: unarchive it or choose another channel",
    "invalid_auth": BAD_TOKEN, "not_authed": BAD_TOKEN, "account_inactive": BAD_TOKEN,
    "token_revoked": BAD_TOKEN, "token_expired": BAD_TOKEN,
}
PASSING = frozenset({"ratelimited", "internal_error", "fatal_error", "service_unavailable",
                     "request_timeout"})


@dataclass(frozen=True)
class SlackProblem:
    """A Slack failure explained: what to tell people, and whether waiting can fix it."""

    text: str
    lasting: bool  # True: someone must change something; False: it may pass
    code: str


def explain(error: BaseException, *, in_conversation: bool = False,
            where: str = "this channel") -> SlackProblem:
    """What `error` means for a person. `in_conversation`: a DM or group DM (no /invite)."""
    if isinstance(error, Unconfirmed):
        return SlackProblem(f"{error} — check before trying again", False, "unconfirmed")
    if not isinstance(error, SlackApiError):
        return SlackProblem(f"I couldn't reach Slack ({type(error).__name__})", False,
                            "unreachable")
    response = error.response
    code = str(response.get("error") or f"http_{response.status_code}")
    if code in ADMIN_FIXES:
        needed = response.get("needed")
        return SlackProblem(ADMIN_FIXES[code].format(
            code=code, needed=f" ({needed})" if needed else ""), True, code)
    if code in NOT_A_MEMBER:
        if in_conversation:
            return SlackProblem(f"Slack won't let me post files in this conversation ({code}): "
                                "ask in a channel, or in your direct messages with segbot",
                                True, code)
        return SlackProblem(f"I'm not a member of {where} ({code}): {INVITE} there", True, code)
    if code in PASSING or response.status_code >= 500 or response.status_code == 429:
        return SlackProblem(f"Slack had a passing problem ({code})", False, code)
    return SlackProblem(f"Slack refused it ({code})", True, code)
