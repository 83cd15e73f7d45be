"""Read a customer table from a SQL database: PostgreSQL as Arrow through ADBC, others through
SQLAlchemy.

PostgreSQL is read with the ADBC driver, which streams the rows as binary COPY straight into
Arrow: a million customers take 1.1–1.5 times a bare `COPY … TO STDOUT` of the same rows,
where `pandas.read_sql` took 5–6 times as long (BENCHMARKS.md). It connects through
libpq, so the environment's PGPASSWORD, ~/.pgpass, PGSSLMODE … apply as they do for psql, and
the driver named in the URL (`postgresql+psycopg://`) does not matter. Every other database is
read through SQLAlchemy with the dialect the user installed.

A PostgreSQL connection gives up after CONNECT_TIMEOUT_S seconds (the URL's `connect_timeout`
beats it) and runs its query read-only, under STATEMENT_TIMEOUT unless the server, the role or
the URL (`options=-c statement_timeout=…`) already sets one. Columns come out as the file
loader gives the same rows (`segmentation.sql_columns`). Every failure is one line with the
password hidden, a `DataError` (the database, the table, the query) or a `ConfigError` (the
URL, a missing driver).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn

import pyarrow as pa

from segmentation.errors import ConfigError, DataError
from segmentation.sources import LoadedTable, SqlSource, redact_url
from segmentation.sql_columns import (
    duplicate_names,
    postgresql_select_list,
    table_to_frame,
    to_arrow,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import URL, Connection, Dialect, Engine

CONNECT_TIMEOUT_S = 10
STATEMENT_TIMEOUT = "10min"  # PostgreSQL's interval syntax
CHUNK_ROWS = 100_000  # rows per fetch from databases other than PostgreSQL
_MESSAGE_LIMIT = 300
# The SQLAlchemy dialect a user installs for a URL scheme we cannot read yet, and the
# package a missing DB-API module comes in.
_DIALECT_PACKAGES = {
    "snowflake": "snowflake-sqlalchemy", "bigquery": "sqlalchemy-bigquery",
    "redshift": "sqlalchemy-redshift", "databricks": "databricks-sqlalchemy",
    "duckdb": "duckdb-engine", "clickhouse": "clickhouse-sqlalchemy",
    "trino": "trino[sqlalchemy]", "hana": "sqlalchemy-hana", "db2": "ibm-db-sa",
}
_DRIVER_PACKAGES = {
    "MySQLdb": "mysqlclient", "pymysql": "pymysql", "mysql": "mysql-connector-python",
    "pyodbc": "pyodbc", "pymssql": "pymssql", "oracledb": "oracledb", "cx_Oracle": "cx_Oracle",
    "psycopg2": "psycopg2-binary", "pg8000": "pg8000", "asyncpg": "asyncpg",
}


def read_sql(source: SqlSource) -> LoadedTable:
    """The rows of `source`'s table or query; DataError or ConfigError in one password-free line."""
    url = parse_url(source.url)
    hide = secret_hider(source.url, url)
    where = redact_url(source.url)
    query = select_statement(source, url)
    if url.get_backend_name() == "postgresql":
        table = _read_postgresql(url, source, query, hide, where)
    else:
        table = _read_with_sqlalchemy(url, source, query, hide, where)
    repeated = duplicate_names(table.column_names)
    if repeated:
        raise DataError(f"the query returns more than one column named {repeated[0]}: "
                        "give them different names (… AS another_name)")
    if table.num_rows == 0:
        what = f"table {source.table}" if source.table else "the query"
        raise DataError(f"{what} in {where} has no rows: nothing to segment")
    return LoadedTable(table_to_frame(table), source.describe())


def parse_url(text: str) -> URL:
    """The SQLAlchemy URL; ConfigError (password hidden) if it cannot be read as one."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(text)
    except (ArgumentError, ValueError) as error:
        raise ConfigError(f"{redact_url(text)} is not a database URL like "
                          "postgresql://user@host:5432/dbname or sqlite:///path/to.db") from error


def select_statement(source: SqlSource, url: URL) -> str:
    """The query to run: the user's, without a trailing semicolon, or SELECT * FROM the table."""
    if source.query:
        return source.query.strip().rstrip(";").strip()
    return f"SELECT * FROM {quote_table(source.table or '', url)}"


def quote_table(name: str, url: URL) -> str:
    """`name` (`table` or `schema.table`, as written: case matters) quoted for the dialect;
    a name the user quoted is used as given."""
    if '"' in name or "`" in name or "[" in name:
        return name
    preparer = dialect_of(url, driver=False).identifier_preparer
    return ".".join(preparer.quote_identifier(part) for part in name.split("."))


def secret_hider(raw: str, url: URL) -> Callable[[str], str]:
    """A function that hides the URL's password (as typed and decoded) in any text."""
    from urllib.parse import quote, unquote

    secrets = {str(value) for key, value in url.query.items()
               if key.lower() in {"password", "passwd", "pwd", "secret", "token"}}
    if url.password:
        password = str(url.password)
        secrets |= {password, quote(password, safe=""), unquote(password)}
    secrets |= set(re.findall(r"://[^:/@]*:([^@]*)@", raw))
    ordered = sorted((s for s in secrets if s), key=len, reverse=True)

    def hide(text: str) -> str:
        for secret in ordered:
            text = text.replace(secret, "***")
        return re.sub(r"(\w+(?:\+\w+)?://[^\s:/@]*):[^\s@]*@", r"\1:***@", text)

    return hide


# --- PostgreSQL: ADBC ------------------------------------------------------------------------

def _read_postgresql(url: URL, source: SqlSource, query: str, hide: Callable[[str], str],
                     where: str) -> pa.Table:
    from adbc_driver_manager import Error as AdbcError
    from adbc_driver_postgresql import dbapi

    try:
        connection = dbapi.connect(libpq_uri(url), autocommit=True)
    except AdbcError as error:
        _connection_failed(error, hide, where)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('default_transaction_read_only', 'on', false), "
                "CASE WHEN current_setting('statement_timeout') = '0' THEN "
                f"set_config('statement_timeout', '{STATEMENT_TIMEOUT}', false) END")
            cursor.fetchall()
            try:
                schema = cursor.adbc_execute_schema(query)
                cursor.execute(postgresql_select_list(query, schema))
                return cursor.fetch_arrow_table()
            except AdbcError as error:
                if source.table and getattr(error, "sqlstate", None) == "42P01":
                    _no_such_table(source.table, where, _postgresql_names(cursor, source.table))
                raise
    except AdbcError as error:
        _query_failed(error, source, hide, where)
    finally:
        connection.close()


def libpq_uri(url: URL) -> str:
    """The URL as libpq reads it (no +driver), with our connect timeout unless it has one.

    libpq reads %20, not +, as a space in parameters (options=-c%20statement_timeout%3D5s),
    so the query string is encoded here rather than by SQLAlchemy."""
    from urllib.parse import quote, urlencode

    query = dict(url.query)
    query.setdefault("connect_timeout", str(CONNECT_TIMEOUT_S))
    base = url.set(drivername="postgresql", query={}).render_as_string(hide_password=False)
    return base + "?" + urlencode(query, doseq=True, quote_via=quote)


def _postgresql_names(cursor: object, table: str) -> list[str]:
    """Tables whose name is `table`'s but for case, as `schema.table`, for the hint."""
    last = table.rsplit(".", 1)[-1]
    try:
        cursor.execute(  # type: ignore[attr-defined]
            "SELECT table_schema || '.' || table_name FROM information_schema.tables "
            "WHERE lower(table_name) = lower($1) ORDER BY 1 LIMIT 5", parameters=(last,))
        return [row[0] for row in cursor.fetchall()]  # type: ignore[attr-defined]
    except Exception:  # only a hint: the missing table is the error to report
        return []


# --- other databases: SQLAlchemy -------------------------------------------------------------

def _read_with_sqlalchemy(url: URL, source: SqlSource, query: str,
                          hide: Callable[[str], str], where: str) -> pa.Table:
    import pandas as pd
    from pandas.errors import DatabaseError as PandasDatabaseError
    from sqlalchemy.exc import SQLAlchemyError

    _check_sqlite_file(url)
    engine = _engine(url)
    try:
        with engine.connect() as connection:
            if source.table:
                _check_table(connection, source.table, where)
            # a plain string goes to the driver as written: no ":name" bind parameters
            chunks = list(pd.read_sql(query, connection, chunksize=CHUNK_ROWS))
    except (SQLAlchemyError, PandasDatabaseError) as error:  # pandas wraps a failed query
        _database_failed(error, source, hide, where)
    finally:
        engine.dispose()
    if not chunks:  # no rows: the columns do not matter
        return pa.table({})
    return to_arrow(pd.concat(chunks, ignore_index=True) if len(chunks) > 1 else chunks[0])


def _engine(url: URL) -> Engine:
    from sqlalchemy import create_engine

    dialect_of(url)  # a missing dialect or driver: ConfigError
    return create_engine(url)


def dialect_of(url: URL, *, driver: bool = True) -> Dialect:
    """The URL's SQLAlchemy dialect, and with `driver` its DB-API driver imported; ConfigError
    says what to pip install."""
    from sqlalchemy.exc import NoSuchModuleError

    try:
        dialect = url.get_dialect()
        if driver:
            dialect.import_dbapi()
    except NoSuchModuleError:
        name = url.get_backend_name()
        package = _DIALECT_PACKAGES.get(name, f"the SQLAlchemy dialect for {name}")
        raise ConfigError(f"cannot read {url.drivername}:// URLs: no SQLAlchemy dialect for "
                          f"them is installed; pip install {package}") from None
    except ImportError as error:  # the dialect is there, its DB-API driver is not
        module = (error.name or "").split(".")[0]
        package = _DRIVER_PACKAGES.get(module, module or "its driver")
        raise ConfigError(f"cannot read {url.drivername}:// URLs: the driver {module} is not "
                          f"installed; pip install {package}") from None
    return dialect()


def _check_sqlite_file(url: URL) -> None:
    """A SQLite path that does not exist is a typo: SQLite would create an empty database."""
    from pathlib import Path

    path = url.database or ""
    if url.get_backend_name() == "sqlite" and path not in ("", ":memory:") \
            and not path.startswith("file:") and not Path(path).exists():
        raise DataError(f"no such SQLite database: {path} (sqlite:///relative/path.db, "
                        "sqlite:////absolute/path.db)")


def _check_table(connection: Connection, table: str, where: str) -> None:
    from sqlalchemy import inspect

    schema, _, name = table.rpartition(".")
    inspector = inspect(connection)
    if not inspector.has_table(name, schema=schema or None):
        near = [t for t in inspector.get_table_names(schema=schema or None)
                if t.lower() == name.lower()]
        _no_such_table(table, where, near)


# --- errors ----------------------------------------------------------------------------------

def _no_such_table(table: str, where: str, near: list[str]) -> NoReturn:
    hint = (f" (there is {', '.join(near)}: the name is case-sensitive)" if near
            else " (check the name, and the schema: schema.table)")
    raise DataError(f"no table {table} in {where}{hint}") from None


def _connection_failed(error: Exception, hide: Callable[[str], str], where: str) -> NoReturn:
    detail = driver_message(str(error), hide)
    hint = ""
    if "password authentication failed" in detail or "no password supplied" in detail:
        hint = ("; put the password in PGPASSWORD or ~/.pgpass (or the URL: "
                "postgresql://user:password@host/db)")
    elif "timeout expired" in detail:
        hint = (f"; the server did not answer within the connect timeout ({CONNECT_TIMEOUT_S} s"
                ", or the URL's connect_timeout)")
    raise DataError(f"cannot connect to {where}: {detail}{hint}") from None


def _query_failed(error: Exception, source: SqlSource, hide: Callable[[str], str],
                  where: str) -> NoReturn:
    detail = driver_message(str(error), hide)
    state = getattr(error, "sqlstate", None)
    what = f"reading table {source.table}" if source.table else "the query"
    if state == "57014":
        raise DataError(f"{what} in {where} ran past the statement timeout ({STATEMENT_TIMEOUT}, "
                        "or the one the server or the URL's options=-c statement_timeout=… "
                        f"set) and was cancelled: {detail}") from None
    if state == "25006":
        raise DataError(f"{what} tried to change the database, and segbot only reads: "
                        f"{detail}") from None
    if state and state.startswith("08"):  # the connection broke
        raise DataError(f"lost the connection to {where}: {detail}") from None
    raise DataError(f"{what} failed in {where}: {detail}") from None


def _database_failed(error: Exception, source: SqlSource, hide: Callable[[str], str],
                     where: str) -> NoReturn:
    from sqlalchemy.exc import DBAPIError

    error = error.__cause__ if isinstance(error.__cause__, Exception) else error
    detail = driver_message(str(getattr(error, "orig", None) or error), hide)
    if (isinstance(error, DBAPIError) and error.connection_invalidated) or \
            "unable to open database" in detail or "could not connect" in detail:
        raise DataError(f"cannot connect to {where}: {detail}") from None
    what = f"reading table {source.table}" if source.table else "the query"
    raise DataError(f"{what} failed in {where}: {detail}") from None


def driver_message(text: str, hide: Callable[[str], str]) -> str:
    """A driver's message as one short line: no status prefix, no echo of the query, no
    password."""
    text = re.sub(r"^[A-Z_]+: (\[libpq\] )?", "", text.strip())
    text = re.sub(r"^(Failed to (connect|prepare query|execute query)|Execution error"
                  r"( \[\w+\])?|could not begin COPY): ", "", text)
    text = re.split(r"\n\s*(LINE \d+:|Query was:|\[SQL:|\(Background on)", text)[0]
    text = re.sub(r"\.? SQLSTATE: \w+$", "", text)
    text = re.sub(r"\b(ERROR|FATAL):\s+", "", text)
    line = " ".join(hide(text).split()).rstrip(".")
    return line if len(line) <= _MESSAGE_LIMIT else line[:_MESSAGE_LIMIT - 1] + "…"
