"""Filtered audiences: a parsed condition applied to a run's customers table as
parameterised SQL.

Fields are resolved against the run's own columns only (by display label or column name,
ignoring case, spaces and underscores) and quoted; every value the user typed is a bound
parameter. So no user text ever becomes SQL, and a field the run lacks is an error that
names the closest ones.
"""

from __future__ import annotations

import difflib
import re
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn, assert_never

from storage.conditions import And as AllOf
from storage.conditions import (
    Between,
    Compare,
    Condition,
    ConditionError,
    InList,
    IsMissing,
    IsTrue,
    Not,
    Number,
    Op,
    Or,
    Value,
)
from storage.customer_table import AttributeColumn, SqlType, quote

_TRUE = {"true": 1, "yes": 1, "y": 1, "1": 1, "false": 0, "no": 0, "n": 0, "0": 0}
NUMERIC = (SqlType.INTEGER, SqlType.REAL)
AVERAGED = (*NUMERIC, SqlType.BOOLEAN)  # a yes/no column's mean is the share of yes


def _key(name: str) -> str:
    return re.sub(r"[\W_]+", "", name.casefold())


@dataclass(frozen=True)
class ConditionField:
    """An attribute a condition may name: its label, its column, and known text values."""

    label: str
    attribute: AttributeColumn
    values: tuple[str, ...] = ()  # the text values profiles list (categories), if any

    @property
    def kind(self) -> str:
        return {SqlType.INTEGER: "a number", SqlType.REAL: "a number",
                SqlType.BOOLEAN: "yes/no", SqlType.TEXT: "text"}[self.attribute.type]


@dataclass(frozen=True)
class Fields:
    """The fields of one run, found by label or column name."""

    fields: tuple[ConditionField, ...]
    _by_key: dict[str, ConditionField] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_key: dict[str, ConditionField] = {}
        for f in self.fields:
            for name in (f.attribute.column, f.attribute.name, f.label):
                by_key.setdefault(_key(name), f)
        object.__setattr__(self, "_by_key", by_key)

    @classmethod
    def of_run(cls, attributes: Sequence[AttributeColumn], labels: Mapping[str, str],
               categories: Mapping[str, Iterable[str]]) -> Fields:
        """The fields of a run: its attribute columns, their labels and category values."""
        return cls(tuple(ConditionField(labels.get(a.name, a.name.replace("_", " ")), a,
                                        tuple(categories.get(a.name, ())))
                         for a in attributes))

    def find(self, name: str) -> ConditionField:
        """The field called ``name``; a unique label prefix will do (`online share`)."""
        key = _key(name)
        if key in self._by_key:
            return self._by_key[key]
        prefixed = {id(f): f for k, f in self._by_key.items() if key and k.startswith(key)}
        if len(prefixed) == 1:
            return next(iter(prefixed.values()))
        labels = {f.label.casefold(): f.label for f in self.fields}
        close = difflib.get_close_matches(name.casefold(), list(labels), n=3, cutoff=0.5)
        hint = (f" Did you mean {' or '.join(f'`{labels[c]}`' for c in close)}?" if close else
                f" Fields: {', '.join(f.label for f in self.fields)}.")
        _raise(f"No field called `{name}` in this run.{hint}")


def _raise(message: str) -> NoReturn:
    raise ConditionError(message)


@dataclass(frozen=True)
class Compiled:
    """A condition as SQL: a WHERE fragment, its parameters, and the fields it names."""

    sql: str
    params: tuple[Any, ...]
    fields: tuple[ConditionField, ...]


def compile_condition(condition: Condition, fields: Fields) -> Compiled:
    """``condition`` as parameterised SQL over the run's columns; raise `ConditionError`
    for an unknown field or a value of the wrong kind."""
    params: list[Any] = []
    used: dict[str, ConditionField] = {}
    sql = _Compiler(fields, params, used).sql(condition)
    return Compiled(sql, tuple(params), tuple(used.values()))


@dataclass
class _Compiler:
    fields: Fields
    params: list[Any]
    used: dict[str, ConditionField]

    def field(self, name: str) -> tuple[ConditionField, str]:
        found = self.fields.find(name)
        self.used.setdefault(found.attribute.column, found)
        return found, quote(found.attribute.column)

    def sql(self, node: Condition) -> str:
        match node:
            case AllOf(operands) | Or(operands):
                joiner = " AND " if isinstance(node, AllOf) else " OR "
                return "(" + joiner.join(self.sql(op) for op in operands) + ")"
            case Not(operand):
                return f"NOT {self.sql(operand)}"
            case IsMissing(name):
                return f"({self.field(name)[1]} IS NULL)"
            case IsTrue(name):
                found, column = self.field(name)
                if found.attribute.type is not SqlType.BOOLEAN:
                    _raise(f"`{found.label}` is {found.kind}, not yes/no: compare it, e.g. "
                           f"{_example(found)}")
                return f"({column} = 1)"
            case Compare(name, op, value):
                found, column = self.field(name)
                return f"({column} {op}{self.bind(found, value, op)})"
            case Between(name, low, high):
                found, column = self.field(name)
                return (f"({column} BETWEEN {self.bind(found, low, Op.GE)[1:]} "
                        f"AND {self.bind(found, high, Op.LE)[1:]})")
            case InList(name, values, negated):
                found, column = self.field(name)
                marks = ", ".join(self.bind(found, v, Op.EQ)[1:] for v in values)
                marks = marks.replace(" COLLATE NOCASE", "")
                collate = (" COLLATE NOCASE" if found.attribute.type is SqlType.TEXT
                           and not found.values else "")
                return f"({column}{collate} {'NOT IN' if negated else 'IN'} ({marks}))"
            case _:
                assert_never(node)

    def bind(self, found: ConditionField, value: Value, op: Op) -> str:
        """`` ?`` with the value appended to the parameters, checked against the field."""
        kind = found.attribute.type
        if kind in NUMERIC:
            if not isinstance(value, Number):
                _raise(f"`{found.label}` is a number, so `{value.value}` cannot be compared "
                       f"with it: e.g. {_example(found)}")
            number = value.value
            # an INTEGER column compares faster with an integer than with 30.0
            whole = number.is_integer() and abs(number) < 2**63
            self.params.append(int(number) if whole else number)
            return " ?"
        if kind is SqlType.BOOLEAN:
            text = value.text if isinstance(value, Number) else value.value
            if text.casefold() not in _TRUE or op not in (Op.EQ, Op.NE):
                _raise(f"`{found.label}` is yes/no: write `{found.label.lower()}` or "
                       f"`not {found.label.lower()}` (or `= yes` / `= no`)")
            self.params.append(_TRUE[text.casefold()])
            return " ?"
        if isinstance(value, Number) and found.values:
            _raise(f"`{found.label}` is text, so `{value.text}` cannot be compared with it: "
                   f"e.g. {_example(found)}")
        text = value.text if isinstance(value, Number) else value.value
        if found.values and op in (Op.EQ, Op.NE):
            known = {v.casefold(): v for v in found.values}
            if text.casefold() not in known:
                _raise(f"`{found.label}` has no value `{text}`; its values are "
                       f"{', '.join(found.values)}")
            # the value as stored: compared byte for byte, faster than without case
            self.params.append(known[text.casefold()])
            return " ?"
        self.params.append(text)
        return " ? COLLATE NOCASE" if op in (Op.EQ, Op.NE) else " ?"


def _example(found: ConditionField) -> str:
    name = found.label.lower()
    if found.attribute.type in NUMERIC:
        return f"`{name} > 10`"
    if found.attribute.type is SqlType.BOOLEAN:
        return f"`{name}` or `not {name}`"
    values = found.values or ("…",)
    return f"`{name} = {values[0]}` or `{name} in ({', '.join(values[:2])})`"


@dataclass(frozen=True)
class Audience:
    """How many customers match, per segment, and the mean of some features among them."""

    counts: dict[int, int]  # segment id -> matching customers
    means: dict[str, float | None]  # attribute name -> mean over every matching customer

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def count_audience(conn: sqlite3.Connection, table: str, compiled: Compiled,
                   features: Sequence[AttributeColumn], segment_ids: Sequence[int],
                   segment_id: int | None = None) -> Audience:
    """Count ``table``'s customers matching ``compiled``, in each of ``segment_ids`` (or
    only in ``segment_id``), with each feature's mean over all of them: one scan.

    Counts per segment are FILTERed counts, not GROUP BY: grouping sorts the matching rows
    (a temporary b-tree), 140 ms against 75 ms at 1M customers for five segments."""
    where, params = _where(compiled, segment_id)
    ids = [segment_id] if segment_id is not None else list(segment_ids)
    counts = ("count(*)" if segment_id is not None else
              ", ".join(["count(*) FILTER (WHERE segment_id = ?)"] * len(ids)) or "0")
    means = "".join(f", avg({quote(a.column)})" for a in features)
    row = conn.execute(f"SELECT {counts}{means} FROM {table} WHERE {where}",
                       [*(ids if segment_id is None else ()), *params]).fetchone()
    return Audience({i: int(n) for i, n in zip(ids, row, strict=False) if n},
                    {a.name: row[len(ids) + i] for i, a in enumerate(features)})


def _where(compiled: Compiled, segment_id: int | None) -> tuple[str, list[Any]]:
    if segment_id is None:
        return compiled.sql, list(compiled.params)
    return f"segment_id = ? AND {compiled.sql}", [segment_id, *compiled.params]


def select_audience(conn: sqlite3.Connection, table: str, compiled: Compiled,
                    attributes: Sequence[AttributeColumn],
                    segment_id: int | None = None) -> list[tuple[Any, ...]]:
    """The matching customers' rows: customer_id, segment_id, distance, then attributes."""
    where, params = _where(compiled, segment_id)
    columns = "".join(f", {quote(a.column)}" for a in attributes)
    return conn.execute(
        f"SELECT customer_id, segment_id, distance{columns} FROM {table} WHERE {where} "
        "ORDER BY segment_id, distance IS NULL, distance, customer_id", params).fetchall()


@dataclass(frozen=True)
class FieldRange:
    """A field and the values it takes in a run: min and max, or its known text values."""

    field: ConditionField
    low: Any = None
    high: Any = None


def field_ranges(conn: sqlite3.Connection, table: str, fields: Fields) -> list[FieldRange]:
    """Each field with its smallest and largest value (one scan of the table)."""
    ranged = [f for f in fields.fields if f.attribute.type in NUMERIC
              or (f.attribute.type is SqlType.TEXT and not f.values)]
    if not ranged:
        return [FieldRange(f) for f in fields.fields]
    columns = ", ".join(f"min({quote(f.attribute.column)}), max({quote(f.attribute.column)})"
                        for f in ranged)
    row = conn.execute(f"SELECT {columns} FROM {table}").fetchone()
    bounds = {f.attribute.column: (row[2 * i], row[2 * i + 1]) for i, f in enumerate(ranged)}
    return [FieldRange(f, *bounds.get(f.attribute.column, (None, None))) for f in fields.fields]
