"""Where a customer table comes from: a file, or a table or query in a SQL database.

`read_table` is the one way a refresh reads its table. It returns the rows with a description
of the source that is safe to print and store (never a password) and the steps reading took
(an encoding other than UTF-8, rows left out because they had the wrong number of fields), so
that the run's cleaning report tells the whole story from the bytes on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import urlsplit

from segmentation.errors import ConfigError
from segmentation.result import CleaningStep

if TYPE_CHECKING:  # a source is named by every command; only reading one needs pandas
    import pandas as pd

    from segmentation.schema import SchemaOverrides

_SECRET_PARAMETER = re.compile(r"([?&](?:password|passwd|pwd|secret|token|access_token)=)[^&#]*",
                               re.IGNORECASE)


@dataclass(frozen=True)
class FileSource:
    """A CSV/TSV, Parquet or Excel file (compressed or not)."""

    path: Path
    sheet: str | None = None  # an Excel workbook's sheet; None: the first

    def describe(self) -> str:
        """The file, and the sheet when one was chosen."""
        return f"{self.path} (sheet {self.sheet})" if self.sheet else str(self.path)


@dataclass(frozen=True)
class SqlSource:
    """A table, or the rows of a query, in a database reached through a SQLAlchemy URL."""

    url: str = field(default="", repr=False)  # may hold a password: show `describe()`
    table: str | None = None
    query: str | None = None

    def describe(self) -> str:
        """The URL with its password hidden, and the table or query."""
        what = f"table {self.table}" if self.table else f"query {_one_line(self.query or '')}"
        return f"{redact_url(self.url)} ({what})"


TableSource = FileSource | SqlSource


@dataclass(frozen=True)
class LoadedTable:
    """The rows read, where from (safe to show), and what reading them took."""

    frame: pd.DataFrame
    source: str
    steps: tuple[CleaningStep, ...] = ()

    @property
    def rows_left_out(self) -> int:
        """Rows of the source that reading left out (each one is in a "dropped rows" step)."""
        return sum(step.count for step in self.steps if step.action == "dropped rows")


def is_database_url(text: str) -> bool:
    """Whether `--data` names a database (`dialect[+driver]://…`) rather than a file."""
    scheme = urlsplit(text).scheme
    return "://" in text and bool(scheme) and len(scheme) > 1  # "C:\\…" is a Windows path


class SourceNames(NamedTuple):
    """What the user calls the table, query and sheet choices, for messages."""

    table: str
    query: str
    sheet: str


OPTION_NAMES = SourceNames("--table", "--query", "--sheet")
SETTING_NAMES = SourceNames("SEGBOT_TABLE", "SEGBOT_QUERY", "SEGBOT_SHEET")
SCHEMA_FILE_NAMES = SourceNames("the schema file's table", "the schema file's query", "--sheet")
SCHEMA_SETTING_NAMES = SourceNames("SEGBOT_SCHEMA's table", "SEGBOT_SCHEMA's query",
                                   "SEGBOT_SHEET")


def table_source(data: str | Path, *, table: str | None = None, query: str | None = None,
                 sheet: str | None = None, names: SourceNames = OPTION_NAMES,
                 schema: SchemaOverrides | None = None,
                 schema_names: SourceNames = SCHEMA_FILE_NAMES) -> TableSource:
    """The source `data` (a file or a database URL) and the table, query or sheet name;
    ConfigError if they do not fit together. A schema file's table or query is read when
    neither `table` nor `query` is given; when both say what to read, they must agree."""
    if schema is not None and (schema.table or schema.query):
        table, query, names = _with_schema_choice(table, query, names, schema, schema_names)
    text = str(data).strip()
    if not is_database_url(text):
        if table or query:
            raise ConfigError(f"{names.table if table else names.query} reads from a database, "
                              f"and {text} is a file; give a database URL such as "
                              "postgresql://host/dbname")
        return FileSource(Path(text).expanduser(), sheet=sheet or None)
    if sheet:
        raise ConfigError(f"{names.sheet} chooses an Excel sheet; a database has tables "
                          f"({names.table})")
    if bool(table) == bool(query):
        raise ConfigError(f"{redact_url(text)} is a database: say what to read from it with "
                          f"{names.table} or {names.query} (one of them)")
    return SqlSource(text, table=table or None, query=query or None)


def _with_schema_choice(table: str | None, query: str | None, names: SourceNames,
                        schema: SchemaOverrides, schema_names: SourceNames
                        ) -> tuple[str | None, str | None, SourceNames]:
    """The table or query to read, and the names to give it in messages."""
    if not table and not query:
        return schema.table, schema.query, schema_names._replace(sheet=names.sheet)
    if (table or None, query or None) == (schema.table, schema.query):
        return table, query, names
    ours = f"{names.table} {table}" if table else names.query
    theirs = (f"{schema_names.table} {schema.table}" if schema.table
              else schema_names.query)
    raise ConfigError(f"{ours} and {theirs} say different things to read: name the table or "
                      "query in one place")


def redact_url(url: str) -> str:
    """The URL with any password (user:password@ or ?password=) replaced by ***; the rest of it
    exactly as written (sqlite:////abs/path keeps its slashes, options keep their %20)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(a database URL that cannot be parsed)"
    start = url.find("//") + 2 if parts.netloc else 0
    netloc = parts.netloc
    if "@" in netloc:
        credentials, _, host = netloc.rpartition("@")
        user, has_password, _ = credentials.partition(":")
        netloc = f"{user}:***@{host}" if has_password else f"{user}@{host}"
    head, rest = url[:start], url[start + len(parts.netloc):]
    rest = _SECRET_PARAMETER.sub(r"\1***", rest)
    return head + netloc + rest


def short_source(source: str) -> str:
    """A stored run's source as a heading shows it: a file's name, or the database source."""
    return source if is_database_url(source) else Path(source).name


def _one_line(query: str, limit: int = 80) -> str:
    text = " ".join(query.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def read_table(source: TableSource) -> LoadedTable:
    """Read the customer table `source` names; DataError says what is wrong with it."""
    if isinstance(source, SqlSource):
        from segmentation.sql import read_sql  # SQLAlchemy: only refreshes from a database

        return read_sql(source)
    from segmentation.loading import read_file

    return read_file(source)
