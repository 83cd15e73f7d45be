"""What a column's name says about its role in an order export, in the words shops use.

Each role has a rank function: None when the name rules the role out, else 0 for the
clearest names and higher numbers for weaker ones. Values are checked elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import StrEnum


class Role(StrEnum):
    """A column's part in an order export; the values are `OrderColumns`' field names."""

    CUSTOMER = "customer"
    DATE = "date"
    ORDER = "order"
    AMOUNT = "amount"
    PRICE = "price"
    QUANTITY = "quantity"
    CATEGORY = "category"
    CHANNEL = "channel"


_CUSTOMER_WORDS = frozenset({
    "customer", "customers", "cust", "client", "clients", "user", "users", "buyer", "buyers",
    "member", "members", "shopper", "shoppers", "account", "consumer", "patron", "contact",
    "loyalty", "kunde", "kunden", "klant", "klanten", "cliente", "clienti", "kund", "email",
    "mail",
})
_ID_WORDS = frozenset({"id", "ids", "no", "nr", "num", "number", "nummer", "key", "code", "ref",
                       "reference", "identifier", "uid", "uuid", "guid"})
_NEUTRAL_WORDS = frozenset({"e", "shop", "store", "web", "online", "crm", "card", "unique",
                            "external", "ext", "global"})
_DATE_WORDS = frozenset({"date", "datum", "time", "timestamp", "datetime", "day", "dt", "fecha",
                         "created", "ordered", "purchased", "placed", "at", "on"})
_PURCHASE_WORDS = frozenset({"order", "purchase", "purchased", "invoice", "transaction", "sale",
                             "sales", "bought", "booking", "payment", "placed", "ordered",
                             "receipt", "bestell", "kauf", "txn"})
_OTHER_EVENT_WORDS = frozenset({
    "ship", "shipped", "shipping", "delivery", "delivered", "dispatch", "dispatched", "birth",
    "born", "signup", "registered", "registration", "joined", "since", "enrol", "enrolment",
    "enrollment", "due", "expiry", "expires", "modified", "updated", "refund", "refunded",
    "return", "returned", "cancel", "cancelled", "canceled", "first", "last", "dob",
})
_ORDER_WORDS = frozenset({"order", "orders", "invoice", "invoices", "transaction",
                          "transactions", "txn", "trans", "receipt", "basket", "cart", "ticket",
                          "bestellung", "rechnung", "factura", "pedido", "commande", "bon"})
_ORDER_WORDS_NEEDING_ID = frozenset({"purchase", "sale", "booking", "trans", "bon"})
_AMOUNT_WORDS = frozenset({"amount", "amt", "revenue", "sales", "spend", "spent", "turnover",
                           "umsatz", "betrag", "bedrag", "importe", "montant", "monto", "omzet",
                           "paid", "payment", "gmv", "charged"})
_WEAK_AMOUNT_WORDS = frozenset({"total", "value", "valor", "wert", "sum", "subtotal", "net",
                                "gross", "sale", "charge"})
_PRICE_WORDS = frozenset({"price", "prices", "preis", "prijs", "precio", "prix", "unitprice"})
_QUANTITY_WORDS = frozenset({"qty", "quantity", "quantities", "units", "items", "pieces", "pcs",
                             "count", "menge", "anzahl", "aantal", "cantidad", "quantite",
                             "stuck", "stueck"})
_CATEGORY_WORDS = frozenset({"category", "categories", "cat", "department", "dept", "genre",
                             "collection", "family", "kategorie", "categorie", "categoria",
                             "warengruppe", "section"})
_PRODUCT_WORDS = frozenset({"product", "products", "item", "brand", "article", "artikel"})
_CHANNEL_WORDS = frozenset({"channel", "source", "medium", "platform", "store", "shop",
                            "device", "outlet", "kanal", "canal", "marketplace", "origin"})
# Words that make a column something other than what a line was worth ("Sales channel").
_NOT_VALUE_WORDS = frozenset({
    "tax", "vat", "discount", "shipping", "freight", "fee", "fees", "cost", "costs", "margin",
    "profit", "commission", "tip", "deposit", "balance", "limit", "credit", "rate", "percent",
    "pct", "share", "ratio", "date", "time", "channel", "source", "medium", "platform",
    "device", "outlet", "kanal", "canal",
}) | _QUANTITY_WORDS | _ID_WORDS | _CATEGORY_WORDS
# Words that make a column a value or an amount of goods, never a label ("sales" may be both).
_VALUE_WORDS = (_AMOUNT_WORDS | _WEAK_AMOUNT_WORDS | _PRICE_WORDS | _QUANTITY_WORDS) - {
    "sales", "sale"}
_VOCABULARY = (_CUSTOMER_WORDS | _ID_WORDS | _DATE_WORDS | _PURCHASE_WORDS | _ORDER_WORDS
               | _AMOUNT_WORDS | _WEAK_AMOUNT_WORDS | _PRICE_WORDS | _QUANTITY_WORDS
               | _CATEGORY_WORDS | _PRODUCT_WORDS | _CHANNEL_WORDS | {"unit", "line", "name"})

def column_words(column: str) -> frozenset[str]:
    """Lower-case words of a column name: CustomerID -> customer, id; orderdate -> order, date."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", column)
    tokens = [token.lower() for token in re.split(r"[^A-Za-z]+", spaced) if token]
    return frozenset(word for token in tokens for word in _split_compound(token))


def _split_compound(token: str) -> tuple[str, ...]:
    if token in _VOCABULARY:
        return (token,)
    for cut in range(2, len(token) - 1):
        if token[:cut] in _VOCABULARY and token[cut:] in _VOCABULARY:
            return token[:cut], token[cut:]
    return (token,)


def _customer(words: frozenset[str]) -> int | None:
    if words == {"id"}:
        return 3  # a bare "id" is a customer's only when nothing says customer
    if not words & _CUSTOMER_WORDS:
        return None
    if words <= _CUSTOMER_WORDS | _ID_WORDS | _NEUTRAL_WORDS:
        return 0 if words & _ID_WORDS or len(words) == 1 else 1
    return 2 if words <= _CUSTOMER_WORDS | _ID_WORDS | _NEUTRAL_WORDS | {"name", "full"} else None


def _date(words: frozenset[str]) -> int:
    if words & _OTHER_EVENT_WORDS:
        return 3
    if words & _DATE_WORDS:
        return 0 if words & _PURCHASE_WORDS or words <= _DATE_WORDS else 1
    return 2


def _order(words: frozenset[str]) -> int | None:
    allowed = _ORDER_WORDS | _ORDER_WORDS_NEEDING_ID | _ID_WORDS | _NEUTRAL_WORDS
    if not words <= allowed or not words & (_ORDER_WORDS | _ORDER_WORDS_NEEDING_ID):
        return None
    if not words & _ORDER_WORDS:
        return 1 if words & _ID_WORDS else None
    return 0


def _amount(words: frozenset[str]) -> int | None:
    if words & _NOT_VALUE_WORDS:
        return None
    return 0 if words & _AMOUNT_WORDS else 1 if words & _WEAK_AMOUNT_WORDS else None


def _price(words: frozenset[str]) -> int | None:
    return 0 if words & _PRICE_WORDS and not words & _NOT_VALUE_WORDS else None


def _quantity(words: frozenset[str]) -> int | None:
    if words & (_AMOUNT_WORDS | _PRICE_WORDS | _ID_WORDS):
        return None
    return 0 if words & _QUANTITY_WORDS else None


def _category(words: frozenset[str]) -> int | None:
    if words & _VALUE_WORDS:
        return None
    return 0 if words & _CATEGORY_WORDS else 1 if words & _PRODUCT_WORDS else None


def _channel(words: frozenset[str]) -> int | None:
    if words & _VALUE_WORDS:
        return None
    return 0 if words & _CHANNEL_WORDS else None


_RANKS: dict[Role, Callable[[frozenset[str]], int | None]] = {
    Role.CUSTOMER: _customer, Role.DATE: _date, Role.ORDER: _order, Role.AMOUNT: _amount,
    Role.PRICE: _price, Role.QUANTITY: _quantity, Role.CATEGORY: _category,
    Role.CHANNEL: _channel,
}


def name_rank(role: Role, column: str) -> int | None:
    """How clearly a column's name says it plays ``role``: 0 best; None: it does not."""
    return _RANKS[role](column_words(column))


