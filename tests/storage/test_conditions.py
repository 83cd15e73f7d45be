"""The condition language: each form parses to the tree it means, each mistake says what is
expected, and no input whatever raises anything but `ConditionError`."""

from __future__ import annotations

import re
import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage.audiences import Fields, compile_condition
from storage.conditions import (
    And,
    Between,
    Compare,
    ConditionError,
    InList,
    IsMissing,
    IsTrue,
    Not,
    Number,
    Op,
    Or,
    Text,
    parse_condition,
)
from storage.customer_table import AttributeColumn, SqlType, create_table


@pytest.mark.parametrize("text, tree", [
    ("income > 50000 and education = PhD",
     And((Compare("income", Op.GT, Number(50000, "50000")),
          Compare("education", Op.EQ, Text("PhD"))))),
    ("days since last purchase >= 60",
     Compare("days since last purchase", Op.GE, Number(60, "60"))),
    ("age between 30 and 45", Between("age", Number(30, "30"), Number(45, "45"))),
    ("marital status in (Married, Together)",
     InList("marital status", (Text("Married"), Text("Together")))),
    ("marital status not in (single)", InList("marital status", (Text("single"),), True)),
    ("not complain", Not(IsTrue("complain"))),
    ("online share < 20%", Compare("online share", Op.LT, Number(0.2, "20%"))),
    ("income >= 50,000", Compare("income", Op.GE, Number(50000, "50,000"))),
    ("income <= $1.5k", Compare("income", Op.LE, Number(1500, "$1.5k"))),
    ("income != -3", Compare("income", Op.NE, Number(-3, "-3"))),
    ("income is missing", IsMissing("income")),
    ("income is not missing", Not(IsMissing("income"))),
    ("education is PhD", Compare("education", Op.EQ, Text("PhD"))),
    ("education = 2n Cycle", Compare("education", Op.EQ, Text("2n Cycle"))),
    ("region = “North East”", Compare("region", Op.EQ, Text("North East"))),
    ("joined < 2020-03-01", Compare("joined", Op.LT, Text("2020-03-01"))),
    ("a = 1 or b = 2 and c = 3",
     Or((Compare("a", Op.EQ, Number(1, "1")),
         And((Compare("b", Op.EQ, Number(2, "2")), Compare("c", Op.EQ, Number(3, "3"))))))),
    ("(a = 1 or b = 2) AND NOT c",
     And((Or((Compare("a", Op.EQ, Number(1, "1")), Compare("b", Op.EQ, Number(2, "2")))),
          Not(IsTrue("c"))))),
])
def test_each_form_parses_to_what_it_means(text: str, tree: object) -> None:
    assert parse_condition(text) == tree


@pytest.mark.parametrize("text, expected", [
    ("", "empty"),
    ("income >", "expected a value"),
    ("> 5", "expected a field name"),
    ("(income > 5", "expected `)`"),
    ("income > 5)", "unexpected `)`"),
    ("age between 30", "needs `and`"),
    ("status in Married", "list in parentheses"),
    ("status in (a b", "expected `,` or `)`"),
    ("income 5 6 >", "expected a value"),
    ("name = 'open", "not closed"),
    ("income > 5 education = PhD", "join conditions"),
    ("(" * 20 + "a" + ")" * 20, "nests more than"),
    ("not " * 20 + "a", "nests more than"),
])
def test_each_mistake_says_what_is_expected(text: str, expected: str) -> None:
    with pytest.raises(ConditionError, match=re.escape(expected)):
        parse_condition(text)


ATTRIBUTES = (AttributeColumn("Income", "Income", SqlType.REAL),
              AttributeColumn("Education", "Education", SqlType.TEXT),
              AttributeColumn("Recency", "Recency", SqlType.INTEGER),
              AttributeColumn("Complain", "Complain", SqlType.BOOLEAN),
              AttributeColumn("OnlineShare", "OnlineShare", SqlType.REAL),
              AttributeColumn('Say "hi"; DROP', 'Say "hi"; DROP', SqlType.TEXT))
FIELDS = Fields.of_run(ATTRIBUTES, {"Recency": "Days since last purchase",
                                    "OnlineShare": "Online share of purchases"},
                       {"Education": ["Basic", "Graduation", "PhD"]})


@pytest.fixture(scope="module")
def table() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", check_same_thread=False)
    create_table(conn, 1, ATTRIBUTES)
    conn.execute("INSERT INTO run_1_customers VALUES ('1', 1, 0.5, 60000, 'PhD', 70, 0, 0.1, "
                 "'x'), ('2', 2, 0.2, NULL, 'Basic', 10, 1, 0.9, NULL)")
    return conn


def matching(conn: sqlite3.Connection, text: str) -> list[str]:
    compiled = compile_condition(parse_condition(text), FIELDS)
    return [row[0] for row in conn.execute(
        f"SELECT customer_id FROM run_1_customers WHERE {compiled.sql} ORDER BY 1",
        compiled.params)]


@pytest.mark.parametrize("text, ids", [
    ("income > 50k and education = phd", ["1"]),
    ("days since last purchase >= 60", ["1"]),
    ("online share < 20%", ["1"]),
    ("ONLINE SHARE >= 0.5", ["2"]),
    ("complain", ["2"]),
    ("not complain", ["1"]),
    ("complain = no", ["1"]),
    ("education in (basic, PHD)", ["1", "2"]),
    ("education not in (basic)", ["1"]),
    ("income is missing", ["2"]),
    ("recency between 10 and 70", ["1", "2"]),
    ("income > 1 or recency < 20", ["1", "2"]),
    ("say hi drop = X", ["1"]),
])
def test_conditions_select_the_customers_they_describe(table: sqlite3.Connection, text: str,
                                                       ids: list[str]) -> None:
    assert matching(table, text) == ids


@pytest.mark.parametrize("text, expected", [
    ("incme > 5", "Did you mean `Income`"),
    ("days since purchase > 5", "Did you mean `Days since last purchase`"),
    ("zzzz > 5", "Fields: Income, Education"),
    ("education > 3", "`Education` is text, so `3` cannot be compared"),
    ("income > rich", "`Income` is a number"),
    ("education = doctor", "has no value `doctor`; its values are Basic, Graduation, PhD"),
    ("complain = maybe", "is yes/no"),
    ("income", "is a number, not yes/no"),
])
def test_a_condition_the_run_cannot_answer_says_why(text: str, expected: str) -> None:
    with pytest.raises(ConditionError, match=re.escape(expected)):
        compile_condition(parse_condition(text), FIELDS)


def test_user_text_is_only_ever_a_parameter() -> None:
    compiled = compile_condition(parse_condition(
        """say hi drop = "x' OR 1=1; DROP TABLE runs --" or income > 1"""), FIELDS)
    assert compiled.sql == '(("Say ""hi""; DROP" = ? COLLATE NOCASE) OR ("Income" > ?))'
    assert compiled.params == ("x' OR 1=1; DROP TABLE runs --", 1.0)


WORDS = ["income", "education", "age", "and", "or", "not", "in", "between", "is", "missing",
         "(", ")", ",", "=", "!=", "<", ">=", "<>", "50k", "20%", "1,000", "-3", "$5", "'",
         '"', "“", "”", "PhD", "days since last purchase", "complain", "--", ";", "\x00", "!"]


@settings(max_examples=300, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=60),
                 st.lists(st.sampled_from(WORDS), max_size=14).map(" ".join)))
def test_no_input_raises_anything_but_a_condition_error(table: sqlite3.Connection,
                                                        text: str) -> None:
    """Whatever is typed: a syntax tree that compiles to SQL SQLite runs, or ConditionError."""
    try:
        matching(table, text)
    except ConditionError as error:
        assert str(error)
