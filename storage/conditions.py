"""The condition language of filtered audiences (``/cluster 2 where income > 50k``), parsed
into a small syntax tree by hand, never evaluated as code.

Grammar (keywords case-insensitive; a field or a text value is one or more words)::

    condition  := conjunct ("or" conjunct)*
    conjunct   := negation ("and" negation)*
    negation   := "not" negation | "(" condition ")" | test
    test       := field [ compare value | "between" value "and" value
                        | ["not"] "in" "(" value ("," value)* ")"
                        | "is" ["not"] ("missing" | value) ]
    compare    := "=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">="
    value      := number | 'quoted text' | words

A number may have thousands separators and a ``k``/``m``/``%`` suffix (``50,000``, ``50k``,
``20%``); a field alone (``complain``) means it is true. Which fields exist and what their
values may be is checked later, against a run's columns (`storage.audiences`); this module
knows no run. `parse_condition` raises only `ConditionError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

MAX_DEPTH = 12  # parentheses and "not"s inside each other


class ConditionError(ValueError):
    """A condition cannot be understood or applied; the message says what is expected."""


class Op(StrEnum):
    """A comparison, spelled as SQL spells it."""

    EQ = "="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="


@dataclass(frozen=True)
class Number:
    value: float
    text: str


@dataclass(frozen=True)
class Text:
    value: str


Value = Number | Text


@dataclass(frozen=True)
class Compare:
    field: str
    op: Op
    value: Value


@dataclass(frozen=True)
class Between:
    field: str
    low: Value
    high: Value


@dataclass(frozen=True)
class InList:
    field: str
    values: tuple[Value, ...]
    negated: bool = False


@dataclass(frozen=True)
class IsTrue:
    field: str


@dataclass(frozen=True)
class IsMissing:
    field: str


@dataclass(frozen=True)
class Not:
    operand: Condition


@dataclass(frozen=True)
class And:
    operands: tuple[Condition, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Condition, ...]


Condition = Compare | Between | InList | IsTrue | IsMissing | Not | And | Or

_OPS = {"=": Op.EQ, "==": Op.EQ, "!=": Op.NE, "<>": Op.NE, "<": Op.LT, "<=": Op.LE,
        ">": Op.GT, ">=": Op.GE, "≤": Op.LE, "≥": Op.GE, "≠": Op.NE}
KEYWORDS = frozenset({"and", "or", "not", "in", "between", "is"})
_SCALE = {"": 1.0, "k": 1e3, "m": 1e6, "%": 0.01}
# Slack turns quotes into curly ones as people type; each opening quote has its closing one.
_QUOTES = {"'": "'", '"': '"', "\u2018": "\u2019", "\u201c": "\u201d"}
_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>[$€£]?-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[$€£]?-?\.\d+)
    (?P<suffix>[kKmM%]?)(?![\w.\-/:])
  | (?P<op><=|>=|==|!=|<>|[=<>≤≥≠])
  | (?P<punct>[(),])
  | (?P<quoted>(['"\u2018\u201c]))
  | (?P<word>[^\s()<>=!,'"\u2018\u2019\u201c\u201d≤≥≠]+|!)
""", re.VERBOSE)


@dataclass(frozen=True)
class Token:
    kind: str  # number, op, punct, text (quoted), word
    text: str
    number: float | None = None

    def is_keyword(self, *words: str) -> bool:
        return self.kind == "word" and self.text.casefold() in words


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text``; quoted text is one token."""
    tokens: list[Token] = []
    at = 0
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None:  # pragma: no cover - the word pattern takes any other character
            raise ConditionError(f"cannot read {text[at:at + 20]!r}")
        kind = match.lastgroup if match.lastgroup != "suffix" else "number"
        if match["quoted"]:
            close = text.find(_QUOTES[match["quoted"]], match.end())
            if close < 0:
                raise ConditionError(f"the quote opened at {text[at:at + 20]!r} is not closed")
            tokens.append(Token("text", text[match.end():close]))
            at = close + 1
            continue
        if match["number"] is not None:
            digits = match["number"].lstrip("$€£").replace(",", "")
            tokens.append(Token("number", match.group(0),
                                float(digits) * _SCALE[match["suffix"].lower()]))
        elif kind != "space":
            tokens.append(Token(str(kind), match.group(0)))
        at = match.end()
    return tokens


def parse_condition(text: str) -> Condition:
    """The syntax tree of ``text``; raise `ConditionError` saying what is wrong."""
    parser = _Parser(tokenize(text))
    if not parser.tokens:
        raise ConditionError("the condition is empty; e.g. `where income > 50000`")
    condition = parser.condition(0)
    if parser.peek() is not None:
        raise ConditionError(f"unexpected {parser.describe()}: join conditions with "
                             "`and` / `or`")
    return condition


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.at = 0

    def peek(self) -> Token | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise ConditionError("the condition ends too early")
        self.at += 1
        return token

    def describe(self) -> str:
        token = self.peek()
        return "end of the condition" if token is None else f"`{token.text}`"

    def accept(self, *words: str) -> bool:
        token = self.peek()
        if token is not None and (token.is_keyword(*words) or
                                  (token.kind in ("punct", "op") and token.text in words)):
            self.at += 1
            return True
        return False

    def condition(self, depth: int) -> Condition:
        operands = [self.conjunct(depth)]
        while self.accept("or"):
            operands.append(self.conjunct(depth))
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def conjunct(self, depth: int) -> Condition:
        operands = [self.negation(depth)]
        while self.accept("and"):
            operands.append(self.negation(depth))
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def negation(self, depth: int) -> Condition:
        if depth >= MAX_DEPTH:
            raise ConditionError(f"the condition nests more than {MAX_DEPTH} levels deep")
        if self.accept("not", "!"):
            return Not(self.negation(depth + 1))
        if self.accept("("):
            inner = self.condition(depth + 1)
            if not self.accept(")"):
                raise ConditionError(f"expected `)` but found {self.describe()}")
            return inner
        return self.test()

    def test(self) -> Condition:
        field = self.words("a field name, e.g. `income`")
        token = self.peek()
        if token is None or token.is_keyword("and", "or") or token.text == ")":
            return IsTrue(field)
        if token.kind == "op":
            self.at += 1
            return Compare(field, _OPS[token.text], self.value())
        if self.accept("between"):
            low = self.value()
            if not self.accept("and"):
                raise ConditionError(f"`{field} between …` needs `and`, e.g. "
                                     f"`{field} between 30 and 45`")
            return Between(field, low, self.value())
        if self.accept("is"):
            negated = self.accept("not")
            if self.accept("missing", "null", "empty", "unknown"):
                test: Condition = IsMissing(field)
            else:
                test = Compare(field, Op.EQ, self.value())
            return Not(test) if negated else test
        negated = self.accept("not")
        if self.accept("in"):
            return InList(field, self.values(field), negated)
        raise ConditionError(f"after `{field}` expected a comparison (`>`, `=`, `between`, "
                             f"`in` …) but found {self.describe()}")

    def values(self, field: str) -> tuple[Value, ...]:
        if not self.accept("("):
            raise ConditionError(f"`in` needs a list in parentheses, e.g. "
                                 f"`{field} in (a, b)`")
        values = [self.value()]
        while self.accept(","):
            values.append(self.value())
        if not self.accept(")"):
            raise ConditionError(f"expected `,` or `)` in the list but found {self.describe()}")
        return tuple(values)

    def value(self) -> Value:
        token = self.peek()
        if token is not None and token.kind == "number" and token.number is not None:
            self.at += 1
            return Number(token.number, token.text)
        if token is not None and token.kind == "text":
            self.at += 1
            return Text(token.text)
        return Text(self.words("a value, e.g. `50000` or `PhD`"))

    def words(self, expected: str) -> str:
        """One or more words (numbers among them: `2n cycle`, `web visits 2`)."""
        words = []
        while (token := self.peek()) is not None and token.kind in ("word", "number") \
                and not token.is_keyword(*KEYWORDS):
            words.append(token.text)
            self.at += 1
        if not words:
            raise ConditionError(f"expected {expected} but found {self.describe()}")
        return " ".join(words)
