"""Reading customers from a real PostgreSQL server (started by the tests) and from SQLite."""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pandas as pd
import pytest

from segmentation.errors import ConfigError, DataError
from segmentation.loading import load_table
from segmentation.sources import FileSource, SqlSource, read_table, table_source
from segmentation.sql import STATEMENT_TIMEOUT, read_sql
from segmentation.synthetic import generate_customers, write_customers
from tests.postgres_server import PASSWORD, PostgresServer, create_customer_table, free_port

SHOP = "shop"
READER_PASSWORD = "r@ad:er/pw%1"  # every character a URL must escape


@pytest.fixture(scope="session")
def shop(postgres: PostgresServer) -> PostgresServer:
    """The server with a database `shop`: 300 customers, a table of every common column type,
    an empty table, a table named in mixed case, and a login role whose password needs escaping."""
    postgres.create_database(SHOP)
    create_customer_table(postgres, SHOP, "customers", generate_customers(300, seed=1))
    postgres.psql(f"""
        CREATE TABLE kinds (
            id integer, customer_code text, spend numeric(10, 2), visits integer,
            joined date, seen timestamp, vip boolean, note text, region smallint,
            token uuid, tags text[], score real, amount_text text);
        INSERT INTO kinds VALUES
            (1, '0042', 12.50, 3, '2024-01-31', '2024-02-01 10:00', true, 'N/A', 1,
             'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{{a,b}}', 0.5, '10'),
            (2, '0043', 7.25, NULL, '2024-03-01', NULL, false, 'fine', 2, NULL, NULL, 1.5, '12.5'),
            (3, '0044', NULL, 5, NULL, '2024-03-02 11:30', NULL, '', 1, NULL, '{{}}', NULL, '');
        CREATE TABLE empty_customers (id integer, spend integer);
        CREATE TABLE "Orders" (id integer);
        CREATE ROLE reader LOGIN PASSWORD '{READER_PASSWORD.replace("'", "''")}';
        GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader;
        """, SHOP)
    return postgres


@pytest.fixture
def no_ambient_password(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """libpq finds no password but the one in the URL (no PGPASSWORD, no ~/.pgpass)."""
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-pgpass"))


def read(url: str, *, table: str | None = None, query: str | None = None) -> pd.DataFrame:
    return read_sql(SqlSource(url, table=table, query=query)).frame


def test_a_plain_postgresql_url_reads_the_table_as_the_file_loader_would(shop) -> None:
    frame = read(shop.url(SHOP), table="customers")
    assert len(frame) == 300
    assert frame["ID"].map(type).eq(str).all()  # ids are text, as a CSV's are
    assert frame["Income"].dtype == "float64" and frame["MntWines"].dtype == "int64"
    assert pd.api.types.is_datetime64_any_dtype(frame["Dt_Customer"])
    assert pd.api.types.is_string_dtype(frame["Education"])


def test_column_types_come_out_as_a_csv_of_the_same_rows_loads(shop, tmp_path) -> None:
    frame = read(shop.url(SHOP), table="kinds")
    assert frame["id"].tolist() == ["1", "2", "3"]  # named like an id: text
    assert frame["customer_code"].tolist() == ["0042", "0043", "0044"]  # leading zeros kept
    assert frame["spend"].dtype == "float64" and frame["spend"].iloc[0] == 12.5  # NUMERIC
    assert frame["visits"].dtype == "float64" and pd.isna(frame["visits"].iloc[1])
    assert frame["region"].dtype == "int64" and frame["score"].dtype == "float64"
    assert pd.api.types.is_datetime64_any_dtype(frame["joined"])
    assert frame["joined"].iloc[0] == pd.Timestamp("2024-01-31")
    assert pd.isna(frame["note"].iloc[0]) and pd.isna(frame["note"].iloc[2])  # 'N/A', ''
    assert frame["amount_text"].tolist()[:2] == [10.0, 12.5]  # numbers stored as text
    assert frame["token"].iloc[0] == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
    assert frame["tags"].iloc[0] == "{a,b}"  # what COPY (and so a CSV export) writes
    # the same rows, exported as a CSV and loaded as a file, have the same kinds of column
    csv = tmp_path / "kinds.csv"
    csv.write_text(shop.psql("COPY kinds TO STDOUT (FORMAT csv, HEADER)", SHOP))
    loaded = load_table(csv)
    for column in ("spend", "visits", "region", "note", "amount_text"):
        assert frame[column].dtype.kind == loaded[column].dtype.kind, column
    assert pd.isna(loaded["note"].iloc[0]) and pd.isna(loaded["note"].iloc[2])


def test_a_query_reads_its_rows_and_a_trailing_semicolon_is_fine(shop) -> None:
    frame = read(shop.url(SHOP), query='SELECT "ID", "Income" FROM customers '
                                       'WHERE "Kidhome" = 0 ORDER BY "ID";')
    assert list(frame.columns) == ["ID", "Income"]
    expected = shop.psql('SELECT count(*) FROM customers WHERE "Kidhome" = 0', SHOP)
    assert str(len(frame)) in expected


def test_the_driver_named_in_the_url_does_not_matter(shop) -> None:
    url = shop.url(SHOP, scheme="postgresql+psycopg")
    assert len(read(url, table="public.customers")) == 300


def test_a_password_that_needs_escaping_works_and_is_never_shown(shop) -> None:
    url = shop.url(SHOP, user="reader", password=quote(READER_PASSWORD, safe=""))
    assert len(read(url, table="kinds")) == 3
    loaded = read_sql(SqlSource(url, table="kinds"))
    assert READER_PASSWORD not in loaded.source and quote(READER_PASSWORD, safe="") \
        not in loaded.source
    assert loaded.source == f"postgresql://reader:***@127.0.0.1:{shop.port}/shop (table kinds)"


def test_pgpassword_from_the_environment_is_used(shop, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "none"))
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    assert len(read(shop.url(SHOP, password=None), table="kinds")) == 3


def test_a_pgpass_file_is_used(shop, monkeypatch, tmp_path) -> None:
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"127.0.0.1:{shop.port}:*:segbot:{PASSWORD}\n")
    pgpass.chmod(0o600)  # libpq ignores a file others can read
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(pgpass))
    assert len(read(shop.url(SHOP, password=None), table="kinds")) == 3


def test_queries_run_read_only_under_the_default_statement_timeout(shop) -> None:
    settings = read(shop.url(SHOP), query="SELECT current_setting('statement_timeout') AS t, "
                                          "current_setting('transaction_read_only') AS ro")
    assert settings.iloc[0].tolist() == [STATEMENT_TIMEOUT, "on"]
    with pytest.raises(DataError, match="segbot only reads"):
        read(shop.url(SHOP), query="DELETE FROM customers RETURNING *")
    assert len(read(shop.url(SHOP), table="customers")) == 300  # nothing was deleted


def test_a_statement_timeout_in_the_url_wins_and_is_reported(shop) -> None:
    url = shop.url(SHOP) + "?options=-c%20statement_timeout%3D100"
    with pytest.raises(DataError, match="statement timeout") as caught:
        read(url, query="SELECT pg_sleep(2) AS nap")
    assert "cancel" in str(caught.value)


# each case: the source, then words the one-line message must hold
FAILURES = {
    "wrong password": (lambda s: s.url(SHOP, password="pw-wrong-7Yq"), {"table": "kinds"},
                       ["cannot connect", "password authentication failed", "PGPASSWORD"]),
    "no password anywhere": (lambda s: s.url(SHOP, password=None), {"table": "kinds"},
                             ["cannot connect", "no password", "~/.pgpass"]),
    "unknown database": (lambda s: s.url("nosuchdb"), {"table": "kinds"},
                         ["cannot connect", 'database "nosuchdb" does not exist']),
    "connection refused": (lambda s: f"postgresql://segbot:{PASSWORD}@127.0.0.1:"
                                     f"{free_port()}/shop", {"table": "kinds"},
                           ["cannot connect", "Connection refused"]),
    "missing table": (lambda s: s.url(SHOP), {"table": "nosuch"},
                      ["no table nosuch in postgresql://segbot:***@"]),
    "table named in another case": (lambda s: s.url(SHOP), {"table": "orders"},
                                    ["no table orders", "public.Orders", "case-sensitive"]),
    "syntax error": (lambda s: s.url(SHOP), {"query": "SELEC * FROM kinds"},
                     ["the query failed", 'syntax error at or near "SELEC"']),
    "unknown column": (lambda s: s.url(SHOP), {"query": "SELECT nosuch FROM kinds"},
                       ["the query failed", 'column "nosuch" does not exist']),
    "empty table": (lambda s: s.url(SHOP), {"table": "empty_customers"},
                    ["table empty_customers", "has no rows"]),
    "query without rows": (lambda s: s.url(SHOP), {"query": "SELECT * FROM kinds WHERE false"},
                           ["the query", "has no rows"]),
    "two columns of one name": (lambda s: s.url(SHOP), {"query": "SELECT id, id FROM kinds"},
                                ["more than one column named id"]),
}


@pytest.mark.parametrize("case", sorted(FAILURES))
def test_each_failure_is_one_line_without_the_password(case, shop, no_ambient_password) -> None:
    url_of, choice, words = FAILURES[case]
    url = url_of(shop)
    with pytest.raises(DataError) as caught:
        read_sql(SqlSource(url, **choice))
    message = str(caught.value)
    assert "\n" not in message and len(message) < 400
    for word in words:
        assert word in message, message
    assert PASSWORD not in message and "pw-wrong-7Yq" not in message


@pytest.mark.slow  # waits out a one-second connect timeout
def test_a_server_that_never_answers_times_out(no_ambient_password) -> None:
    with socket.socket() as silent:  # accepts connections (the kernel does) and says nothing
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        port = silent.getsockname()[1]
        url = f"postgresql://segbot:{PASSWORD}@127.0.0.1:{port}/shop?connect_timeout=1"
        with pytest.raises(DataError, match="timeout expired.*connect timeout") as caught:
            read(url, table="customers")
    assert PASSWORD not in str(caught.value)


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "crm.db"
    with sqlite3.connect(path) as connection:
        connection.executescript("""
            CREATE TABLE customers (customer_id INTEGER, spend REAL, visits INTEGER,
                                    region TEXT, joined TEXT);
            INSERT INTO customers VALUES (7, 10.5, 2, 'North', '2024-01-02'),
                                         (8, NULL, 3, 'N/A', '2024-02-03'),
                                         (9, 3.25, NULL, 'South', NULL);
            CREATE TABLE empty (id INTEGER);
        """)
    yield path


def test_sqlite_reads_with_the_same_column_types(sqlite_db) -> None:
    frame = read(f"sqlite:///{sqlite_db}", table="customers")
    assert frame["customer_id"].tolist() == ["7", "8", "9"]
    assert frame["spend"].dtype == "float64" and frame["visits"].dtype == "float64"
    assert frame["region"].tolist()[0] == "North" and pd.isna(frame["region"].iloc[1])
    queried = read(f"sqlite:///{sqlite_db}", query="SELECT * FROM customers WHERE spend > 5")
    assert queried["customer_id"].tolist() == ["7"]


def test_a_sqlite_path_that_does_not_exist_is_not_created(tmp_path) -> None:
    typo = tmp_path / "crm-typo.db"
    with pytest.raises(DataError, match=f"no such SQLite database: {typo}"):
        read(f"sqlite:///{typo}", table="customers")
    assert not typo.exists()


@pytest.mark.parametrize("choice, words", [
    ({"table": "nosuch"}, ["no table nosuch in sqlite:///"]),
    ({"table": "empty"}, ["has no rows"]),
    ({"query": "SELECT nosuch FROM customers"}, ["the query failed", "no such column"]),
])
def test_sqlite_failures_are_one_line(sqlite_db, choice, words) -> None:
    with pytest.raises(DataError) as caught:
        read_sql(SqlSource(f"sqlite:///{sqlite_db}", **choice))
    assert "\n" not in str(caught.value)
    for word in words:
        assert word in str(caught.value)


@pytest.mark.parametrize("url, words", [
    ("snowflake://me:pw-9Xq@account/db", ["no SQLAlchemy dialect", "pip install snowflake"]),
    ("mysql://me:pw-9Xq@127.0.0.1/db", ["driver MySQLdb is not installed",
                                          "pip install mysqlclient"]),
    ("postgresql://me:pw-9Xq@host:port/db", ["is not a database URL like"]),
])
def test_a_url_segbot_cannot_use_says_what_to_install_or_fix(url, words) -> None:
    with pytest.raises(ConfigError) as caught:
        read(url, table="customers")
    for word in words:
        assert word in str(caught.value)
    assert "pw-9Xq" not in str(caught.value) and "\n" not in str(caught.value)


def test_read_table_reads_a_database_source(shop) -> None:
    source = table_source(shop.url(SHOP), table="kinds")
    loaded = read_table(source)
    assert len(loaded.frame) == 3 and loaded.source == source.describe()
    assert PASSWORD not in loaded.source


# --- acceptance: the same customers segment the same from PostgreSQL and from a CSV ---------

ACCEPTANCE_ROWS = 100_000


@pytest.fixture(scope="session")
def warehouse(postgres: PostgresServer) -> tuple[PostgresServer, pd.DataFrame]:
    """100,000 customers in the reference schema in a table `customers` of database
    `warehouse`, and the same rows as generated, in the order the table holds them.

    A table has no row order, and COPY does not keep the order it was given exactly: it fills
    space left on earlier pages. The engine samples customers by position, so the CSV holds the
    rows in the order PostgreSQL returns them; that is still the CSV of the same rows.
    """
    postgres.create_database("warehouse")
    frame = generate_customers(ACCEPTANCE_ROWS, seed=12)
    create_customer_table(postgres, "warehouse", "customers", frame)
    stored = read(postgres.url("warehouse"), query='SELECT "ID" FROM customers')["ID"]
    by_id = frame.set_index(frame["ID"].astype(str))
    return postgres, by_id.loc[stored.tolist()].reset_index(drop=True)


def _same_segments(database: SqlSource | FileSource, csv: Path) -> None:
    from segmentation.engine import segment_table

    ours, theirs = (segment_table(read_table(source)) for source in (
        database, table_source(csv)))
    assert ours.k == theirs.k
    assert [(s.size, s.name) for s in ours.segments] == \
        [(s.size, s.name) for s in theirs.segments]
    pd.testing.assert_frame_equal(ours.assignments.reset_index(drop=True),
                                  theirs.assignments.reset_index(drop=True))


@pytest.mark.slow  # four segmentations of 100,000 customers
def test_a_postgresql_table_and_query_segment_as_the_csv_of_the_same_rows(
        warehouse, tmp_path) -> None:
    server, frame = warehouse
    url = server.url("warehouse")
    _same_segments(table_source(url, table="customers"),
                   write_customers(frame, tmp_path / "customers.csv"))
    query = ('SELECT * FROM customers WHERE "Year_Birth" >= 1960 AND "Education" <> \'Basic\' '
             'ORDER BY "ID"')
    kept = frame[(frame["Year_Birth"] >= 1960) & (frame["Education"] != "Basic")]
    kept = kept.sort_values("ID").reset_index(drop=True)
    assert 0.3 * len(frame) < len(kept) < 0.9 * len(frame)
    _same_segments(table_source(url, query=query),
                   write_customers(kept, tmp_path / "kept.csv"))
