"""Where a table comes from, and how a database URL is shown: never with its password."""

from __future__ import annotations

from pathlib import Path

import pytest

from segmentation.errors import ConfigError
from segmentation.schema import SchemaOverrides, load_schema_file
from segmentation.sources import FileSource, SqlSource, redact_url, short_source, table_source


@pytest.mark.parametrize("url, shown", [
    ("postgresql://ann:s3cret@db.example:5432/crm", "postgresql://ann:***@db.example:5432/crm"),
    ("postgresql+psycopg://ann:p%40ss@db/crm?sslmode=require",
     "postgresql+psycopg://ann:***@db/crm?sslmode=require"),
    ("postgresql://ann@db/crm?password=s3cret&options=-c%20statement_timeout%3D5s",
     "postgresql://ann@db/crm?password=***&options=-c%20statement_timeout%3D5s"),
    ("sqlite:////srv/data/crm.db", "sqlite:////srv/data/crm.db"),  # four slashes: absolute
    ("sqlite:///crm.db", "sqlite:///crm.db"),
])
def test_a_url_is_shown_as_written_but_for_its_password(url, shown) -> None:
    assert redact_url(url) == shown


def test_a_database_source_describes_itself_without_the_password() -> None:
    source = SqlSource("postgresql://ann:s3cret@db/crm", query="SELECT *\n  FROM customers")
    assert source.describe() == "postgresql://ann:***@db/crm (query SELECT * FROM customers)"
    assert "s3cret" not in repr(source)
    assert short_source(source.describe()) == source.describe()


def _schema_file(tmp_path, text: str) -> SchemaOverrides:
    path = tmp_path / "schema.toml"
    path.write_text(text)
    return load_schema_file(path)


def test_a_schema_file_may_name_the_table_or_the_query(tmp_path) -> None:
    assert _schema_file(tmp_path, 'table = "sales.customers"').table == "sales.customers"
    query = _schema_file(tmp_path, 'query = """\nSELECT * FROM customers\n"""').query
    assert query == "SELECT * FROM customers"
    with pytest.raises(ConfigError, match="names both a table and a query"):
        _schema_file(tmp_path, 'table = "a"\nquery = "SELECT 1"')
    with pytest.raises(ConfigError, match="table must be a table name"):
        _schema_file(tmp_path, "table = 3")


URL = "postgresql://ann@db/crm"


def test_the_schema_files_table_is_read_when_the_command_line_names_none() -> None:
    source = table_source(URL, schema=SchemaOverrides(table="customers"))
    assert source == SqlSource(URL, table="customers")
    assert table_source(URL, query="SELECT 1", schema=SchemaOverrides()) == \
        SqlSource(URL, query="SELECT 1")
    # both naming the same table is no conflict
    assert table_source(URL, table="customers", schema=SchemaOverrides(table="customers")) == \
        SqlSource(URL, table="customers")


@pytest.mark.parametrize("choice, schema, message", [
    ({"table": "orders"}, SchemaOverrides(table="customers"),
     "--table orders and the schema file's table customers say different things to read"),
    ({"query": "SELECT 1"}, SchemaOverrides(table="customers"),
     "--query and the schema file's table customers say different things to read"),
    ({"table": "orders"}, SchemaOverrides(query="SELECT 1"),
     "--table orders and the schema file's query say different things to read"),
])
def test_the_command_line_and_the_schema_file_must_agree(choice, schema, message) -> None:
    with pytest.raises(ConfigError, match=message):
        table_source(URL, schema=schema, **choice)


def test_a_schema_file_naming_a_table_for_a_file_says_which_it_is() -> None:
    with pytest.raises(ConfigError, match="the schema file's table reads from a database, and "
                                          "customers.csv is a file"):
        table_source("customers.csv", schema=SchemaOverrides(table="customers"))
    assert table_source("customers.csv", schema=SchemaOverrides()) == \
        FileSource(Path("customers.csv"))
