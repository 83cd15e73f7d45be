"""Customer lookups read through the primary key, whatever the table size."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from storage import NotFound, Store
from tests.storage.conftest import make_result, publish


def plans_of(path: Path, statements: list[str]) -> list[str]:
    """EXPLAIN QUERY PLAN for every SELECT the store ran, one line per plan step."""
    details = []
    with sqlite3.connect(path) as conn:
        for sql in statements:
            if sql.lstrip().upper().startswith("SELECT"):
                details += [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}")]
    return details


@pytest.mark.parametrize("customer_id", ["1004", "X1", "999"])
def test_customer_lookup_searches_by_primary_key(db_path: Path, customer_id: str) -> None:
    statements: list[str] = []
    store = Store(db_path, trace=statements.append)
    publish(store, make_result(label="A", n_customers=300))
    publish(store, make_result(label="B", n_customers=300, shift=1), minutes=60)
    statements.clear()

    try:
        store.get_customer(customer_id)
    except NotFound:
        pass

    plan = plans_of(db_path, statements)
    per_customer = [step for step in plan if re.search(r"\b(run_\d+_customers|exclusions)\b",
                                                        step)]
    assert {step.split()[1] for step in per_customer} >= {"run_1_customers", "run_2_customers"}
    assert all(step.startswith("SEARCH ") and re.search(
        r"USING PRIMARY KEY \((run_id=\? AND )?customer_id=\?\)", step)
               for step in per_customer), plan
    # The only full reads allowed are of the schema, a table's column list and the runs
    # table: a row per table, column or published run, not per customer.
    scans = {step.split()[1] for step in plan if step.startswith("SCAN")}
    assert scans <= {"runs", "sqlite_master", "pragma_table_info"}, plan
