"""segbot's settings, read once from the environment at start-up.

`load_settings` takes the environment as a parameter (tests pass a dict) and reports every
missing or invalid variable in one `SettingsError`, so a misconfigured deployment fails at
start-up with the whole list rather than one problem per restart.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from segmentation.errors import ConfigError
from segmentation.schema_file import SchemaOverrides, load_schema_file
from segmentation.sources import SCHEMA_SETTING_NAMES, SETTING_NAMES, TableSource, table_source
from storage.retention import check_keep

DEFAULT_DB = "segbot.db"
DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_REFRESH_CRON = "0 6 * * mon"
DEFAULT_TIMEZONE = "UTC"
DEFAULT_PORT = 3000
DEFAULT_CHART_PROCESSES = 2  # one per core of the machine the bot is sized for
DEFAULT_SPARK_MASTER = "local[*]"
MAX_CHART_PROCESSES = 16

_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")

T = TypeVar("T")


class Engine(StrEnum):
    """Where a refresh segments: in this process, or on Spark (the spark extra)."""

    LOCAL = "local"
    SPARK = "spark"


class SettingsError(Exception):
    """One or more environment variables are missing or invalid; `problems` lists them all."""

    def __init__(self, problems: list[str]):
        self.problems = tuple(problems)
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class Settings:
    """Everything segbot reads from its environment, validated."""

    bot_token: str | None = field(default=None, repr=False)  # secrets stay out of logs
    signing_secret: str | None = field(default=None, repr=False)
    app_token: str | None = field(default=None, repr=False)
    db_path: Path = Path(DEFAULT_DB)
    slack_api_url: str = DEFAULT_SLACK_API_URL
    allowed_channels: frozenset[str] = frozenset()
    allowed_users: frozenset[str] = frozenset()
    socket_mode: bool = False  # else HTTP: see `load_settings`
    port: int | None = None  # $PORT; HTTP falls back to DEFAULT_PORT, Socket Mode to no /health
    # the scheduler's settings
    data_source: TableSource | None = None  # SEGBOT_DATA (+ SEGBOT_TABLE/QUERY/SHEET)
    schema_file: Path | None = None  # SEGBOT_SCHEMA, read once at start-up into `schema`
    schema: SchemaOverrides | None = None
    digest_channel: str | None = None
    refresh_cron: str = DEFAULT_REFRESH_CRON
    timezone: str = DEFAULT_TIMEZONE
    keep_runs: int | None = None  # None: keep every run
    chart_processes: int = DEFAULT_CHART_PROCESSES  # 0: charts drawn in the bot's process
    engine: Engine = Engine.LOCAL  # SEGBOT_ENGINE: where refreshes segment
    spark_master: str = DEFAULT_SPARK_MASTER  # SEGBOT_SPARK_MASTER
    spark_conf: tuple[tuple[str, str], ...] = ()  # SEGBOT_SPARK_CONF, passed to Spark as is

    @property
    def tzinfo(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def customer_files_allowed_in(self, channel_id: str) -> bool:
        """Whether files listing customers (exports, the movers CSV) may be posted in a channel:
        only in channels named in SEGBOT_ALLOWED_CHANNELS, never by default."""
        return channel_id in self.allowed_channels

    def may_see_customers(self, user_id: str, channel_id: str) -> bool:
        """Whether customer-level data (/customer, exports) may be shown to this user here."""
        return ((not self.allowed_users or user_id in self.allowed_users)
                and (not self.allowed_channels or channel_id in self.allowed_channels))


def load_settings(environ: Mapping[str, str], *, require_slack: bool,
                  http: bool | None = None) -> Settings:
    """Settings from `environ`; every problem is listed in one `SettingsError`.

    The bot serves Socket Mode when `http` is False, HTTP when it is True, and when it is
    None (the default) Socket Mode if SLACK_APP_TOKEN is set and HTTP otherwise. With
    `require_slack`, the bot token is required, plus the app-level token in Socket Mode or
    the signing secret over HTTP.
    """
    reader = _Reader(environ)
    schema_file, schema = _schema(reader)
    socket_mode = bool(environ.get("SLACK_APP_TOKEN", "").strip()) if http is None else not http
    bot_token = reader.get("SLACK_BOT_TOKEN", _prefixed("xoxb-"), required=require_slack)
    app_token = reader.get("SLACK_APP_TOKEN", _prefixed("xapp-"),
                           required=require_slack and socket_mode,
                           hint="the app-level token xapp-… for Socket Mode")
    signing_secret = reader.get(
        "SLACK_SIGNING_SECRET", _nonblank, required=require_slack and not socket_mode,
        hint="needed to serve HTTP" if http else
        "nor SLACK_APP_TOKEN: set SLACK_APP_TOKEN, the app-level token xapp-…, for Socket "
        "Mode as the shipped manifest.yml is set up, or SLACK_SIGNING_SECRET to serve HTTP "
        "at /slack/events")
    settings = Settings(
        bot_token=bot_token,
        signing_secret=signing_secret,
        app_token=app_token,
        socket_mode=socket_mode,
        db_path=reader.get("SEGBOT_DB", _db_path) or Path(DEFAULT_DB),
        slack_api_url=reader.get("SEGBOT_SLACK_API_URL", _api_url) or DEFAULT_SLACK_API_URL,
        allowed_channels=reader.get("SEGBOT_ALLOWED_CHANNELS", _id_list(_CHANNEL_ID, "C0123ABC"))
        or frozenset(),
        allowed_users=reader.get("SEGBOT_ALLOWED_USERS", _id_list(_USER_ID, "U0123ABC"))
        or frozenset(),
        port=reader.get("PORT", _port),
        schema_file=schema_file,
        schema=schema,
        data_source=_data_source(reader, schema),
        digest_channel=reader.get("SEGBOT_DIGEST_CHANNEL", _channel_id),
        refresh_cron=reader.get("SEGBOT_REFRESH_CRON", _crontab) or DEFAULT_REFRESH_CRON,
        timezone=reader.get("SEGBOT_TIMEZONE", _timezone) or DEFAULT_TIMEZONE,
        keep_runs=reader.get("SEGBOT_KEEP_RUNS", _keep_runs),
        chart_processes=_default(reader.get("SEGBOT_CHART_PROCESSES", _chart_processes),
                                 DEFAULT_CHART_PROCESSES),
        engine=reader.get("SEGBOT_ENGINE", _engine) or Engine.LOCAL,
        spark_master=reader.get("SEGBOT_SPARK_MASTER", _nonblank) or DEFAULT_SPARK_MASTER,
        spark_conf=reader.get("SEGBOT_SPARK_CONF", spark_conf) or (),
    )
    if reader.problems:
        raise SettingsError(reader.problems)
    return settings


class _Reader:
    """Reads variables one by one, collecting problems instead of stopping at the first."""

    def __init__(self, environ: Mapping[str, str]):
        self.environ = environ
        self.problems: list[str] = []

    def get(self, name: str, parse: Callable[[str], T], *, required: bool = False,
            hint: str = "") -> T | None:
        raw = self.environ.get(name, "").strip()
        if not raw:
            if required:
                self.problems.append(f"{name} is not set" + (f" ({hint})" if hint else ""))
            return None
        try:
            return parse(raw)
        except ValueError as error:
            self.problems.append(f"{name}: {error}")
            return None


def _nonblank(raw: str) -> str:
    return raw


def _prefixed(prefix: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if not raw.startswith(prefix) or len(raw) <= len(prefix):
            raise ValueError(f"must start with {prefix} (got {raw[:5]}…)")
        return raw

    return parse


def _engine(raw: str) -> Engine:
    try:
        return Engine(raw.lower())
    except ValueError:
        raise ValueError(f"{raw!r} is not an engine: use {' or '.join(e.value for e in Engine)}"
                         ) from None


def spark_conf(raw: str) -> tuple[tuple[str, str], ...]:
    """Spark settings as ``key=value`` pairs separated by new lines, or by a ``;`` that ends
    the text or comes before the next ``spark.`` key: values may hold commas, spaces and other
    semicolons (spark.jars, extraJavaOptions=-Da=1;-Db=2)."""
    return tuple(spark_setting(item) for item in re.split(r";(?=\s*(?:spark\.|$))|\n", raw)
                 if item.strip())


def spark_setting(raw: str) -> tuple[str, str]:
    """One Spark setting, ``spark.key=value``: the value is everything after the first ``=``."""
    key, equals, value = raw.partition("=")
    if not equals or not key.strip().startswith("spark."):
        raise ValueError(f"{raw.strip()!r} is not spark.<setting>=<value>")
    return key.strip(), value.strip()


def _db_path(raw: str) -> Path:
    path = Path(raw).expanduser()
    if path.is_dir():
        raise ValueError(f"{raw} is a folder; give the path of the SQLite file")
    return path


def _schema(reader: _Reader) -> tuple[Path | None, SchemaOverrides | None]:
    """SEGBOT_SCHEMA: the TOML schema file the scheduled refresh uses, as `refresh --schema`."""
    path = reader.get("SEGBOT_SCHEMA", lambda raw: Path(raw).expanduser())
    if path is None:
        return None, None
    try:
        return path, load_schema_file(path)
    except ConfigError as error:
        reader.problems.append(f"SEGBOT_SCHEMA: {error}")
        return path, None


def _data_source(reader: _Reader, schema: SchemaOverrides | None) -> TableSource | None:
    """SEGBOT_DATA, a file or a database URL, with SEGBOT_TABLE, SEGBOT_QUERY or SEGBOT_SHEET
    (or the schema file's table or query)."""
    data = reader.get("SEGBOT_DATA", _nonblank)
    table = reader.get("SEGBOT_TABLE", _nonblank)
    query = reader.get("SEGBOT_QUERY", _nonblank)
    sheet = reader.get("SEGBOT_SHEET", _nonblank)
    if data is None:
        if table or query or sheet:
            reader.problems.append("SEGBOT_TABLE, SEGBOT_QUERY and SEGBOT_SHEET say what to "
                                   "read from SEGBOT_DATA, which is not set")
        return None
    try:
        return table_source(data, table=table, query=query, sheet=sheet, names=SETTING_NAMES,
                            schema=schema, schema_names=SCHEMA_SETTING_NAMES)
    except ConfigError as error:
        reader.problems.append(f"SEGBOT_DATA: {error}")
        return None


def _api_url(raw: str) -> str:
    parsed = urlparse(raw)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(f"{raw!r} is not an http(s) URL, e.g. {DEFAULT_SLACK_API_URL}")
    return raw if raw.endswith("/") else raw + "/"  # WebClient joins method names onto it


def _id_list(pattern: re.Pattern[str], example: str) -> Callable[[str], frozenset[str]]:
    def parse(raw: str) -> frozenset[str]:
        ids = [item.strip() for item in raw.split(",") if item.strip()]
        bad = [item for item in ids if not pattern.match(item)]
        if bad:
            raise ValueError(f"not Slack IDs: {', '.join(repr(b[:40]) for b in bad[:5])} "
                             f"(comma-separated IDs like {example}, not names)")
        return frozenset(ids)

    return parse


def _channel_id(raw: str) -> str:
    if not _CHANNEL_ID.match(raw):
        raise ValueError(f"{raw[:40]!r} is not a channel ID (like C0123ABC; not #name)")
    return raw


def _port(raw: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise ValueError(f"{raw[:20]!r} is not a port number (1-65535)")
    return int(raw)


def _keep_runs(raw: str) -> int:
    if not raw.isdigit():
        raise ValueError(f"{raw[:20]!r} is not a number of runs to keep")
    check_keep(int(raw))  # the store's own rule and message
    return int(raw)


def _chart_processes(raw: str) -> int:
    allowed = f"0-{MAX_CHART_PROCESSES}; 0 draws charts in the bot's own process"
    if not raw.isdigit():
        raise ValueError(f"{raw[:20]!r} is not a number of chart processes ({allowed})")
    if int(raw) > MAX_CHART_PROCESSES:
        raise ValueError(f"{raw} chart processes is too many ({allowed})")
    return int(raw)


def _default(value: T | None, default: T) -> T:
    """`value`, or `default` when the variable was unset (0 is a value, not unset)."""
    return default if value is None else value


def _crontab(raw: str) -> str:
    from bot.jobs.cron import CRONTAB_FIELDS, crontab_trigger  # the scheduler's own parser

    try:
        crontab_trigger(raw, ZoneInfo("UTC"))
    except ValueError as error:
        raise ValueError(f"{raw!r} is not a crontab line ({CRONTAB_FIELDS}, "
                         f"e.g. {DEFAULT_REFRESH_CRON!r}): {error}") from None
    return raw


def _timezone(raw: str) -> str:
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{raw!r} is not an IANA time zone (e.g. UTC, Europe/Paris)") from None
    return raw
