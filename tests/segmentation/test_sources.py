"""Where a table comes from, and how a database URL is shown: never with its password."""

from __future__ import annotations

import pytest

from segmentation.sources import SqlSource, redact_url, short_source


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
