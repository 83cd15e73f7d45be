"""The TOML schema file: the choices a user makes about a table's columns, read and checked.

Apart from `segmentation.schema`'s inference (pandas): settings read SEGBOT_SCHEMA at the
start of every command, and `segbot customer` must not pay for importing pandas.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from pathlib import Path

from segmentation.errors import ConfigError
from segmentation.order_roles import Role

_CUSTOMER_TABLE_KEYS = {"id", "features", "categoricals", "dates", "profile"}
_ORDER_KEYS = {role.value for role in Role} | {"date_format", "decimal"}
_SCHEMA_KEYS = _CUSTOMER_TABLE_KEYS | _ORDER_KEYS | {"kind", "drop", "as_of", "table", "query"}


class TableKind(StrEnum):
    """What one row of a table is: a purchase (an order history) or a customer."""

    ORDERS = "orders"
    CUSTOMERS = "customers"


@dataclass(frozen=True)
class SchemaOverrides:
    """Choices a user made in a TOML schema file; each one beats inference."""

    id_column: str | None = None
    features: tuple[str, ...] | None = None
    categoricals: tuple[str, ...] | None = None
    dates: tuple[str, ...] | None = None
    drop: tuple[str, ...] = ()
    as_of: date | None = None
    profile: str | None = None  # "reference" | "generic"; None = detect
    # what to read from a database URL, when the command line or SEGBOT_TABLE/QUERY do not say
    table: str | None = None
    query: str | None = None
    kind: TableKind | None = None  # None: an order history is detected
    # an order history's columns by role (customer, date, amount ...): the others are detected
    order_columns: dict[Role, str] = field(default_factory=dict)
    date_format: str | None = None  # strptime format of the order dates' date part
    decimal: str | None = None  # "," or ".": how the order amounts write decimals

    @property
    def describes_orders(self) -> bool:
        """Whether the file says the table is an order history (its kind or an order key)."""
        return self.kind == TableKind.ORDERS or bool(self.order_columns) or \
            self.date_format is not None or self.decimal is not None

    @property
    def describes_customer_table(self) -> bool:
        """Whether the file says the table has one row per customer: its kind, or keys that
        configure a customer table (then no order history is looked for)."""
        return self.kind == TableKind.CUSTOMERS or (not self.describes_orders and (
            self.id_column is not None or self.features is not None
            or self.categoricals is not None or self.dates is not None
            or self.profile is not None))


def load_schema_file(path: str | Path) -> SchemaOverrides:
    """Read a TOML schema file (keys: id, features, categoricals, dates, drop, as_of, profile;
    for an order history kind = "orders", customer, date, amount, price, quantity, order,
    category, channel, date_format, decimal; table or query for a database source)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise ConfigError(f"no such schema file: {path}") from error
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"schema file {path.name} is not valid TOML: {error}") from error
    unknown = sorted(set(data) - _SCHEMA_KEYS)
    if unknown:
        raise ConfigError(f"schema file {path.name}: unknown keys {', '.join(unknown)}; "
                          f"allowed: {', '.join(sorted(_SCHEMA_KEYS))}")
    return SchemaOverrides(
        id_column=_optional_str(data, "id", path),
        features=_optional_names(data, "features", path),
        categoricals=_optional_names(data, "categoricals", path),
        dates=_optional_names(data, "dates", path),
        drop=_optional_names(data, "drop", path) or (),
        as_of=_optional_date(data, path),
        profile=_optional_profile(data, path),
        table=_database_choice(data, path, "table"),
        query=_database_choice(data, path, "query"),
        kind=_kind(data, path),
        order_columns={role: column for role in Role
                       if (column := _optional_str(data, role.value, path)) is not None},
        date_format=_date_format(data, path),
        decimal=_decimal(data, path),
    )


def _kind(data: dict, path: Path) -> TableKind | None:
    """kind = "orders" or "customers", checked against the keys that only fit the other."""
    kind = data.get("kind")
    if kind not in (None, *(k.value for k in TableKind)):
        raise ConfigError(f'schema file {path.name}: kind must be "orders" (one row per '
                          'purchase) or "customers" (one row per customer)')
    order_keys = sorted(_ORDER_KEYS & set(data))
    customer_keys = sorted(_CUSTOMER_TABLE_KEYS & set(data))
    if kind == "customers" and order_keys:
        raise ConfigError(f'schema file {path.name}: {", ".join(order_keys)} describe an order '
                          'history, and kind = "customers" says it is not one')
    if (kind == "orders" or order_keys) and customer_keys:
        orders = 'kind = "orders"' if kind == "orders" else ", ".join(order_keys)
        raise ConfigError(
            f"schema file {path.name}: {', '.join(customer_keys)} describe a customer table, "
            f"and {orders} an order history: an order history takes customer, date, amount, "
            "price, quantity, order, category, channel, date_format and decimal")
    return None if kind is None else TableKind(kind)


def _date_format(data: dict, path: Path) -> str | None:
    value = data.get("date_format")
    if value is not None and (not isinstance(value, str) or "%" not in value):
        raise ConfigError(f'schema file {path.name}: date_format must be a strptime format '
                          'such as "%d/%m/%Y"')
    return value


def _decimal(data: dict, path: Path) -> str | None:
    return _one_of(data, "decimal", (",", "."), path)


def _database_choice(data: dict, path: Path, key: str) -> str | None:
    """The schema file's `table = "…"` or `query = "…"` (not both) for a database source."""
    if "table" in data and "query" in data:
        raise ConfigError(f"schema file {path.name} names both a table and a query: "
                          "keep the one to read")
    value = data.get(key)
    if value is not None and (not isinstance(value, str) or not value.strip()):
        what = "a table name" if key == "table" else 'a query ("SELECT …")'
        raise ConfigError(f"schema file {path.name}: {key} must be {what}")
    return value.strip() if value is not None else None


def _optional_str(data: dict, key: str, path: Path) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"schema file {path.name}: {key} must be a column name")
    return value


def _optional_names(data: dict, key: str, path: Path) -> tuple[str, ...] | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"schema file {path.name}: {key} must be a list of column names")
    return tuple(value)


def _optional_date(data: dict, path: Path) -> date | None:
    value = data.get("as_of")
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as error:
        raise ConfigError(f"schema file {path.name}: as_of must be a date like 2014-06-29") \
            from error


def _optional_profile(data: dict, path: Path) -> str | None:
    return _one_of(data, "profile", ("reference", "generic"), path, quote="'")


def _one_of(data: dict, key: str, allowed: tuple[str, ...], path: Path,
            quote: str = '"') -> str | None:
    """The value of ``key`` if it is one of ``allowed`` (or absent)."""
    value = data.get(key)
    if value not in (None, *allowed):
        choices = " or ".join(f"{quote}{choice}{quote}" for choice in allowed)
        raise ConfigError(f"schema file {path.name}: {key} must be {choices}")
    return value
