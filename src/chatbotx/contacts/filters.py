"""The `contactFilter` language: validated JSON conditions compiled to one SQL WHERE clause over Contact.

Shared by the contacts list, the conversations list and broadcast audiences, so it never touches the session:
everything (tags by name, custom-field types, the latest conversation) is resolved inside the SQL.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    Numeric,
    String,
    Text,
    and_,
    bindparam,
    case,
    cast,
    column,
    exists,
    func,
    literal,
    not_,
    or_,
    select,
    table,
    true,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.visitors import InternalTraversal

from chatbotx.contacts.continents import ALL_COUNTRIES, COUNTRIES_BY_CONTINENT, continent_code
from chatbotx.kit.db import UTCDateTime, utcnow
from chatbotx.kit.errors import ApiError, invalid_field
from chatbotx.kit.fieldtypes import FIELD_TYPES, coerce_value
from chatbotx.kit.ids import parse_id
from chatbotx.kit.normalize import normalize_phone
from chatbotx.models import (
    Contact,
    ContactCustomField,
    ContactInbox,
    ContactTag,
    Conversation,
    CustomField,
    FlowRun,
    Inbox,
    Tag,
)

PARAM = "contactFilter"
MAX_CONDITIONS = 50
MAX_DEPTH = 3
MAX_VALUES = 1000

CHANNELS = (
    "omnichannel",
    "webchat",
    "messenger",
    "whatsapp",
    "zalo",
    "smtp",
    "telegram",
    "instagram",
    "tiktok",
)

_EQUALITY = {"eq", "ne", "in", "notIn"}
_EMPTINESS = {"isEmpty", "isNotEmpty"}
_TEXT = {"contains", "notContains", "startsWith", "endsWith"}
_ORDER = {"lt", "lte", "gt", "gte", "isBetween", "notBetween"}

OPERATORS = (
    "in",
    "notIn",
    "isEmpty",
    "isNotEmpty",
    "eq",
    "ne",
    "startsWith",
    "endsWith",
    "contains",
    "notContains",
    "lt",
    "lte",
    "gt",
    "gte",
    "isBetween",
    "notBetween",
)

# Which operators each kind of field takes.
OPERATORS_BY_KIND: dict[str, frozenset[str]] = {
    "text": frozenset(_EQUALITY | _EMPTINESS | _TEXT),
    "select": frozenset(_EQUALITY | _EMPTINESS),
    "number": frozenset({"eq", "ne"} | _ORDER),
    "datetime": frozenset({"eq", "ne"} | _ORDER),
    "boolean": frozenset({"eq", "ne"}),
    "multiSelect": frozenset(_EQUALITY | _EMPTINESS),
    "customField": frozenset(OPERATORS),
}

FIELD_KINDS: dict[str, str] = {
    "fullName": "text",
    "country": "select",
    "continent": "select",
    "gender": "select",
    "subscribedToBroadcast": "boolean",
    "contactCreatedAt": "datetime",
    "contactCreatedDateMinutesAgo": "number",
    "source": "select",
    "conversationTransferredToHuman": "boolean",
    "interactedInLast24h": "boolean",
    "archived": "boolean",
    "blocked": "boolean",
    "existingContact": "multiSelect",
    "currentChannel": "select",
    "email": "text",
    "phone": "text",
    "tags": "multiSelect",
    "customFields": "customField",
    "executedFlow": "multiSelect",
    "locale": "text",
}

# Operators per custom field type (the field's type picks the comparison).
CUSTOM_FIELD_OPERATORS: dict[str, frozenset[str]] = {
    "shortText": OPERATORS_BY_KIND["text"],
    "longText": OPERATORS_BY_KIND["text"],
    "email": OPERATORS_BY_KIND["text"],
    "phoneNumber": OPERATORS_BY_KIND["text"],
    "number": frozenset(OPERATORS_BY_KIND["number"] | _EMPTINESS | {"in", "notIn"}),
    "date": frozenset(OPERATORS_BY_KIND["datetime"] | _EMPTINESS),
    "datetime": frozenset(OPERATORS_BY_KIND["datetime"] | _EMPTINESS),
    "boolean": frozenset({"eq", "ne"} | _EMPTINESS),
}
_TEXT_TYPES = ("shortText", "longText", "email", "phoneNumber")

_NEGATIVE = {"ne": "eq", "notIn": "in", "notContains": "contains", "notBetween": "isBetween"}


class _Cond:
    """One condition being compiled, with the path used in error messages."""

    def __init__(self, path: str, field: str, operator: str, value: Any, raw: Mapping[str, Any]):
        self.path = path
        self.field = field
        self.operator = operator
        self.value = value
        self.raw = raw

    def error(self, message: str, key: str = "value") -> ApiError:
        return invalid_field(f"{self.path}.{key}", message)


# ---------------------------------------------------------------------------------------------- parsing


def parse_contact_filter(raw: str | None) -> dict[str, Any] | None:
    """The `contactFilter` query parameter as a dict (None when absent); malformed JSON is a 422."""
    if raw is None or not raw.strip():
        return None
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise invalid_field(
            PARAM, 'must be JSON like {"operator":"and","conditions":[{"field":..,"operator":..,"value":..}]}'
        ) from None
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid_field(PARAM, "must be a JSON object")
    return value


def contact_filter_clause(
    workspace_id: int,
    contact_filter: Mapping[str, Any],
    *,
    custom_field_types: Mapping[int, str] | None = None,
) -> ColumnElement[bool]:
    """A WHERE clause over Contact for `contact_filter`; a wrong field, operator or value is a 422 naming it.

    `custom_field_types` (id -> type), when given, makes customFields conditions strict for those fields;
    without it the comparison is picked in SQL from the field's stored type.
    """
    return _group(workspace_id, contact_filter, PARAM, 1, custom_field_types or {})


def custom_field_ids(contact_filter: Mapping[str, Any] | None) -> set[int]:
    """The custom field ids a (well-formed) filter refers to, to load their types in one query."""
    found: set[int] = set()
    if not isinstance(contact_filter, Mapping):
        return found
    for cond in contact_filter.get("conditions") or ():
        if not isinstance(cond, Mapping):
            continue
        if "conditions" in cond:
            found |= custom_field_ids(cond)
        elif cond.get("field") == "customFields":
            field_id = _custom_field_id_raw(cond)
            parsed = parse_id(field_id) if isinstance(field_id, str | int) else None
            if parsed is not None:
                found.add(parsed)
    return found


def _custom_field_id_raw(cond: Mapping[str, Any]) -> Any:
    for key in ("customFieldId", "fieldId", "id"):
        if key in cond:
            return cond[key]
    return None


def _group(
    workspace_id: int, group: Any, path: str, depth: int, types: Mapping[int, str]
) -> ColumnElement[bool]:
    if not isinstance(group, Mapping):
        raise invalid_field(path, "must be an object with operator and conditions")
    unknown = set(group) - {"operator", "conditions"}
    if unknown:
        raise invalid_field(path, f"unknown keys: {', '.join(sorted(unknown))}")
    operator = group.get("operator", "and")
    if operator not in ("and", "or"):
        raise invalid_field(f"{path}.operator", 'must be "and" or "or"')
    conditions = group.get("conditions", [])
    if not isinstance(conditions, list):
        raise invalid_field(f"{path}.conditions", "must be an array")
    if len(conditions) > MAX_CONDITIONS:
        raise invalid_field(f"{path}.conditions", f"at most {MAX_CONDITIONS} conditions")
    clauses = []
    for index, raw in enumerate(conditions):
        item_path = f"{path}.conditions[{index}]"
        if isinstance(raw, Mapping) and "conditions" in raw:
            if depth >= MAX_DEPTH:
                raise invalid_field(item_path, f"groups nest at most {MAX_DEPTH} deep")
            clauses.append(_group(workspace_id, raw, item_path, depth + 1, types))
        else:
            clauses.append(_condition(workspace_id, raw, item_path, types))
    if not clauses:
        return true()
    return and_(*clauses) if operator == "and" else or_(*clauses)


def _condition(workspace_id: int, raw: Any, path: str, types: Mapping[int, str]) -> ColumnElement[bool]:
    if not isinstance(raw, Mapping):
        raise invalid_field(path, "must be an object {field, operator, value}")
    field = raw.get("field")
    if field not in FIELD_KINDS:
        raise invalid_field(f"{path}.field", f"unknown field {field!r}; one of {', '.join(FIELD_KINDS)}")
    operator = raw.get("operator")
    if operator not in OPERATORS:
        raise invalid_field(
            f"{path}.operator", f"unknown operator {operator!r}; one of {', '.join(OPERATORS)}"
        )
    kind = FIELD_KINDS[field]
    if operator not in OPERATORS_BY_KIND[kind]:
        allowed = ", ".join(o for o in OPERATORS if o in OPERATORS_BY_KIND[kind])
        raise invalid_field(
            f"{path}.operator", f"{operator!r} does not apply to {field} ({kind}); use {allowed}"
        )
    cond = _Cond(path, field, operator, raw.get("value"), raw)
    if _has_nul(cond.value):
        raise cond.error("must not contain NUL characters")
    try:
        return _FIELD_BUILDERS[field](workspace_id, cond, types)
    except (OverflowError, ValueError, ArithmeticError):
        # Dates past year 9999, minutes beyond any calendar...: a bad value, never a 500.
        raise cond.error("is out of range") from None


# ------------------------------------------------------------------------------------------ value checks


def _has_nul(value: Any) -> bool:
    """PostgreSQL text cannot hold NUL; refuse it up front rather than fail in the database."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


def _scalar_list(cond: _Cond) -> list[Any]:
    """The values of an in/notIn (a lone scalar counts as a list of one)."""
    value = cond.value
    values = value if isinstance(value, list) else [value]
    if not values:
        raise cond.error("must be a non-empty array")
    if len(values) > MAX_VALUES:
        raise cond.error(f"at most {MAX_VALUES} values")
    for item in values:
        if item is None or isinstance(item, dict | list):
            raise cond.error("must be a value or an array of values")
    return values


def _text(cond: _Cond, value: Any = ...) -> str:
    value = cond.value if value is ... else value
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise cond.error("must be text")
    text = str(value).strip()
    if not text:
        raise cond.error("must not be empty")
    return text


def _bool(cond: _Cond) -> bool:
    value = cond.value
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise cond.error("must be true or false")


MAX_NUMBER = Decimal(10) ** 30


def _number(cond: _Cond, value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise cond.error("must be a number")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise cond.error("must be a number") from None
    if not number.is_finite() or abs(number) >= MAX_NUMBER:
        raise cond.error("must be a finite number below 1e30")
    return number


def _pair(cond: _Cond) -> tuple[Any, Any]:
    value = cond.value
    if not isinstance(value, list) or len(value) != 2:
        raise cond.error(f"{cond.operator} needs an array of two values [from, to]")
    return value[0], value[1]


def _day_bounds(cond: _Cond, value: Any) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of a date (a whole UTC day) or of an instant (a zero-width range)."""
    if not isinstance(value, str) or not value.strip():
        raise cond.error("must be an ISO 8601 date or date-time")
    text = value.strip()
    if len(text) == 10:
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            raise cond.error("must be an ISO 8601 date or date-time") from None
        start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
        return start, start + dt.timedelta(days=1)
    try:
        instant = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise cond.error("must be an ISO 8601 date or date-time") from None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=dt.UTC)
    instant = instant.astimezone(dt.UTC)
    return instant, instant + dt.timedelta(microseconds=1)


# ------------------------------------------------------------------------------------ generic comparisons


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _text_compare(
    column: Any, cond: _Cond, normalize: Callable[[str], str] | None = None, *, ws: int | None = None
) -> ColumnElement[bool]:
    """Case-insensitive text operators over `column`; negative operators also match an empty value.

    `ws` (the workspace) for a column of KEYWORD_COLUMNS lets PostgreSQL find candidates by their search_text.
    """
    op = cond.operator
    if op in _EMPTINESS:
        empty = or_(column.is_(None), column == "")
        return empty if op == "isEmpty" else not_(empty)
    positive = _NEGATIVE.get(op, op)
    lowered = func.lower(column)
    if positive == "in":
        values = [_text(cond, v) for v in _scalar_list(cond)]
        values = [(normalize(v) if normalize else v).lower() for v in values]
        clause: ColumnElement[bool] = lowered.in_(values)
    elif positive == "eq":
        text = _text(cond)
        value = (normalize(text) if normalize else text).lower()
        clause = lowered == value
        needle = _like_escape(value)
    else:
        needle = _like_escape(_text(cond).lower())
        if positive == "contains":
            pattern = f"%{needle}%"
        elif positive == "startsWith":
            pattern = f"{needle}%"
        else:
            pattern = f"%{needle}"
        clause = lowered.like(pattern, escape="\\")
    if op in _NEGATIVE:
        return or_(column.is_(None), not_(clause))
    if positive != "in" and ws is not None and column.key in SEARCHED:
        # On PostgreSQL the search column's trigram index finds the candidates (a value of the field is a
        # part of search_text), and `clause` keeps the field's own meaning.
        return and_(searched_prefilter(ws, needle), clause)
    return clause


def _ordered_compare(column: Any, op: str, low: Any, high: Any) -> ColumnElement[bool]:
    """`column` against [low, high) bounds: eq is inside, lt is below, gt is at or above high, ..."""
    if op in ("eq", "isBetween"):
        return and_(column >= low, column < high)
    if op in ("ne", "notBetween"):
        return or_(column < low, column >= high)
    if op == "lt":
        return column < low
    if op == "lte":
        return column < high
    if op == "gt":
        return column >= high
    return column >= low  # gte


def _datetime_compare(column: Any, cond: _Cond) -> ColumnElement[bool]:
    if cond.operator in ("isBetween", "notBetween"):
        first, second = _pair(cond)
        low, _ = _day_bounds(cond, first)
        _, high = _day_bounds(cond, second)
        if high <= low:
            raise cond.error("the range must go from the earlier to the later value")
    else:
        low, high = _day_bounds(cond, cond.value)
    return _ordered_compare(column, cond.operator, low, high)


def _flag(cond: _Cond, is_set: ColumnElement[bool]) -> ColumnElement[bool]:
    wanted = _bool(cond)
    if cond.operator == "ne":
        wanted = not wanted
    return is_set if wanted else not_(is_set)


def _membership(
    cond: _Cond, has_any: Callable[[list[Any] | None], ColumnElement[bool]]
) -> ColumnElement[bool]:
    """multiSelect operators given `has_any(values)` (values None = has any at all)."""
    op = cond.operator
    if op == "isEmpty":
        return not_(has_any(None))
    if op == "isNotEmpty":
        return has_any(None)
    values = _scalar_list(cond) if op in ("in", "notIn") else [cond.value]
    if op in ("eq", "ne") and (cond.value is None or isinstance(cond.value, dict | list)):
        raise cond.error("must be a single value")
    clause = has_any(values)
    return not_(clause) if op in ("ne", "notIn") else clause


def _ids(cond: _Cond, values: list[Any]) -> list[int]:
    ids = []
    for value in values:
        parsed = parse_id(value) if isinstance(value, str | int) and not isinstance(value, bool) else None
        if parsed is None:
            raise cond.error(f"{value!r} is not an id")
        ids.append(parsed)
    return ids


# ----------------------------------------------------------------------------------------- the fields


def _full_name(ws: int, cond: _Cond, types: Mapping[int, str]) -> ColumnElement[bool]:
    return _text_compare(Contact.full_name, cond, ws=ws)


def _email(ws: int, cond: _Cond, types: Mapping[int, str]) -> ColumnElement[bool]:
    return _text_compare(Contact.email, cond, ws=ws)


def _phone(ws: int, cond: _Cond, types: Mapping[int, str]) -> ColumnElement[bool]:
    def normalize(text: str) -> str:
        try:
            return normalize_phone(text, field=f"{cond.path}.value")
        except ApiError:
            return text

    return _text_compare(Contact.phone_number, cond, normalize, ws=ws)


def _locale(ws: int, cond: _Cond, types: Mapping[int, str]) -> ColumnElement[bool]:
    return _text_compare(Contact.locale, cond)


def _country(ws: int, cond: _Cond, types: Mapping[int, str]) -> ColumnElement[bool]:
    return _text_compare(Contact.country, cond)


def _gender(ws: int, cond: _Cond, types: Mapping[int, str]) -> ColumnElement[bool]:
    return _text_compare(Contact.gender, cond)


def _source(ws: int, cond: _Cond, types: Mapping[int, str]) -> ColumnElement[bool]:
    return _text_compare(Contact.source, cond)


def _continent(ws: int, cond: _Cond, types: Mapping[int, str]) -> ColumnElement[bool]:
    country = func.upper(Contact.country)
    if cond.operator in _EMPTINESS:
        # A contact is on no continent when its country is missing or not a known ISO code.
        known = and_(Contact.country.is_not(None), country.in_(sorted(ALL_COUNTRIES)))
        return not_(known) if cond.operator == "isEmpty" else known
    values = _scalar_list(cond) if cond.operator in ("in", "notIn") else [cond.value]
    codes: set[str] = set()
    for value in values:
        code = continent_code(value) if isinstance(value, str) else None
        if code is None:
            raise cond.error(f"{value!r} is not a continent (AF, AN, AS, EU, NA, OC, SA)")
        codes |= COUNTRIES_BY_CONTINENT[code]
    inside = and_(Contact.country.is_not(None), country.in_(sorted(codes)))
    return or_(Contact.country.is_(None), not_(inside)) if cond.operator in ("ne", "notIn") else inside


def _subscribed(ws: int, cond: _Cond, types: Mapping[int, str]) -> ColumnElement[bool]:
    return _flag(cond, Contact.broadcast_subscribed_at.is_not(None))


def _archived(ws: int, cond: _Cond, types: Mapping[int, str]) -> ColumnElement[bool]:
    return _flag(cond, Contact.archived_at.is_not(None))


def _blocked(ws: int, cond: _Cond, types: Mapping[int, str]) -> ColumnElement[bool]:
    return _flag(cond, Contact.blocked_at.is_not(None))


def _interacted(ws: int, cond: _Cond, types: Mapping[int, str]) -> ColumnElement[bool]:
    since = utcnow() - dt.timedelta(hours=24)
    return _flag(cond, and_(Contact.last_interaction_at.is_not(None), Contact.last_interaction_at >= since))


def _transferred(ws: int, cond: _Cond, types: Mapping[int, str]) -> ColumnElement[bool]:
    has = exists().where(
        Conversation.contact_id == Contact.id, Conversation.transferred_to_human_at.is_not(None)
    )
    return _flag(cond, has)


def _created_at(ws: int, cond: _Cond, types: Mapping[int, str]) -> ColumnElement[bool]:
    return _datetime_compare(Contact.created_at, cond)


def _minutes_ago(ws: int, cond: _Cond, types: Mapping[int, str]) -> ColumnElement[bool]:
    """Age in whole minutes: N minutes ago means created in (now - N - 1 min, now - N min]."""
    now = utcnow()

    def minutes(value: Any) -> Decimal:
        number = _number(cond, value)
        if number < 0:
            raise cond.error("must be zero or more minutes")
        return number

    if cond.operator in ("isBetween", "notBetween"):
        first, second = (minutes(v) for v in _pair(cond))
        low_minutes, high_minutes = min(first, second), max(first, second)
    else:
        low_minutes = high_minutes = minutes(cond.value)
    # Older contacts have smaller created_at: age in [low, high] <=> created_at in (now-high-1, now-low].
    oldest = now - dt.timedelta(minutes=float(high_minutes) + 1)
    newest = now - dt.timedelta(minutes=float(low_minutes))
    created = Contact.created_at
    inside = and_(created > oldest, created <= newest)
    op = cond.operator
    if op in ("eq", "isBetween"):
        return inside
    if op in ("ne", "notBetween"):
        return not_(inside)
    if op == "lt":  # younger than N minutes
        return created > newest
    if op == "lte":
        return created > oldest
    if op == "gt":
        return created <= oldest
    return created <= newest  # gte


def _current_channel(ws: int, cond: _Cond, types: Mapping[int, str]) -> ColumnElement[bool]:
    """The channel of the contact's latest conversation."""
    latest = (
        select(Inbox.channel)
        .select_from(Conversation)
        .join(Inbox, Inbox.id == Conversation.inbox_id)
        .where(Conversation.contact_id == Contact.id)
        .order_by(Conversation.last_activity_at.desc(), Conversation.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    if cond.operator in _EMPTINESS:
        return latest.is_(None) if cond.operator == "isEmpty" else latest.is_not(None)
    values = _scalar_list(cond) if cond.operator in ("in", "notIn") else [cond.value]
    channels = []
    for value in values:
        if value not in CHANNELS:
            raise cond.error(f"{value!r} is not a channel; one of {', '.join(CHANNELS)}")
        channels.append(value)
    clause = func.coalesce(latest, "").in_(channels)
    return not_(clause) if cond.operator in ("ne", "notIn") else clause


def _existing_contact(ws: int, cond: _Cond, types: Mapping[int, str]) -> ColumnElement[bool]:
    """Pick contacts by id."""

    def has_any(values: list[Any] | None) -> ColumnElement[bool]:
        return true() if values is None else Contact.id.in_(_ids(cond, values))

    return _membership(cond, has_any)


def _tags(ws: int, cond: _Cond, types: Mapping[int, str]) -> ColumnElement[bool]:
    """Tags by id or by name (names resolved inside the workspace)."""

    def has_any(values: list[Any] | None) -> ColumnElement[bool]:
        tagged = exists().where(ContactTag.contact_id == Contact.id)
        if values is None:
            live = select(Tag.id).where(Tag.workspace_id == ws, Tag.deleted_at.is_(None))
            return tagged.where(ContactTag.tag_id.in_(live))
        ids, names = [], []
        for value in values:
            if isinstance(value, bool) or not isinstance(value, str | int):
                raise cond.error(f"{value!r} is not a tag id or name")
            parsed = parse_id(value)
            if parsed is not None:
                ids.append(parsed)
            names.append(str(value).strip())
        wanted = select(Tag.id).where(
            Tag.workspace_id == ws, Tag.deleted_at.is_(None), or_(Tag.id.in_(ids), Tag.name.in_(names))
        )
        return tagged.where(ContactTag.tag_id.in_(wanted))

    return _membership(cond, has_any)


def _executed_flow(ws: int, cond: _Cond, types: Mapping[int, str]) -> ColumnElement[bool]:
    def has_any(values: list[Any] | None) -> ColumnElement[bool]:
        ran = exists().where(FlowRun.contact_id == Contact.id, FlowRun.workspace_id == ws)
        return ran if values is None else ran.where(FlowRun.flow_id.in_(_ids(cond, values)))

    return _membership(cond, has_any)


# -------------------------------------------------------------------------------------- custom fields


def _custom_fields(ws: int, cond: _Cond, types: Mapping[int, str]) -> ColumnElement[bool]:
    """A custom field's value, compared in the field's own type (number, date, boolean, text...)."""
    raw_id = _custom_field_id_raw(cond.raw)
    field_id = parse_id(raw_id) if isinstance(raw_id, str | int) and not isinstance(raw_id, bool) else None
    if field_id is None:
        raise cond.error("customFields conditions need a customFieldId", key="customFieldId")
    known_type = types.get(field_id)
    if known_type is not None and cond.operator not in CUSTOM_FIELD_OPERATORS.get(known_type, frozenset()):
        allowed = ", ".join(o for o in OPERATORS if o in CUSTOM_FIELD_OPERATORS.get(known_type, ()))
        raise cond.error(
            f"{cond.operator!r} does not apply to a {known_type} field; use {allowed}", "operator"
        )
    op = cond.operator
    positive = _NEGATIVE.get(op, op)
    candidates = (known_type,) if known_type else FIELD_TYPES
    value_col = ContactCustomField.value
    has_value = and_(value_col.is_not(None), value_col != "")
    base = (
        select(ContactCustomField.id)
        .join(CustomField, CustomField.id == ContactCustomField.custom_field_id)
        .where(
            ContactCustomField.contact_id == Contact.id,
            ContactCustomField.custom_field_id == field_id,
            CustomField.workspace_id == ws,
        )
    )
    if op in _EMPTINESS:
        filled = base.where(has_value).exists()
        return not_(filled) if op == "isEmpty" else filled
    branches = []
    errors: list[ApiError] = []
    for field_type in candidates:
        if positive not in CUSTOM_FIELD_OPERATORS[field_type]:
            continue
        try:
            branch = _typed_value_clause(cond, field_type, positive, value_col)
        except ApiError as exc:
            errors.append(exc)
            continue
        branches.append(branch if known_type else and_(CustomField.type == field_type, branch))
    if not branches:
        if errors:
            raise errors[0]
        raise cond.error(f"{op!r} does not apply to this custom field", "operator")
    matched = base.where(has_value, or_(*branches)).exists()
    return not_(matched) if op in _NEGATIVE else matched


def _typed_value_clause(cond: _Cond, field_type: str, op: str, value_col: Any) -> ColumnElement[bool]:
    """`value_col` (stored text) against the condition's value read as `field_type`; op is positive."""
    path = f"{cond.path}.value"
    if field_type in _TEXT_TYPES:
        lowered = func.lower(value_col)
        if op in ("eq", "in"):
            values = _scalar_list(cond) if op == "in" else [cond.value]
            texts = [coerce_value(field_type, v, field=path) for v in values]
            return lowered.in_([t.lower() for t in texts if t is not None])
        pattern = _like_escape(_text(cond).lower())
        pattern = {"contains": f"%{pattern}%", "startsWith": f"{pattern}%", "endsWith": f"%{pattern}"}[op]
        return lowered.like(pattern, escape="\\")
    if field_type == "boolean":
        return value_col == coerce_value("boolean", cond.value, field=path)
    if field_type == "number":
        # CASE guards the cast: PostgreSQL evaluates it only for rows of a number field.
        number = case((CustomField.type == "number", cast(value_col, Numeric())))

        def num(v: Any) -> Any:
            return literal(_number(cond, coerce_value("number", v, field=path)), Numeric())

        if op == "in":
            return number.in_([num(v) for v in _scalar_list(cond)])
        if op == "isBetween":
            low, high = (num(v) for v in _pair(cond))
            return and_(number >= low, number <= high)
        target = num(cond.value)
        return {
            "eq": number == target,
            "lt": number < target,
            "lte": number <= target,
            "gt": number > target,
            "gte": number >= target,
        }[op]

    # date / datetime: the stored text is canonical ISO, so text order is time order.
    def stored(v: Any) -> Any:
        return literal(coerce_value(field_type, v, field=path), String)

    if op == "isBetween":
        low, high = (stored(v) for v in _pair(cond))
        return and_(value_col >= low, value_col <= high)
    target = stored(cond.value)
    return {
        "eq": value_col == target,
        "lt": value_col < target,
        "lte": value_col <= target,
        "gt": value_col > target,
        "gte": value_col >= target,
    }[op]


_FIELD_BUILDERS: dict[str, Callable[[int, _Cond, Mapping[int, str]], ColumnElement[bool]]] = {
    "fullName": _full_name,
    "country": _country,
    "continent": _continent,
    "gender": _gender,
    "subscribedToBroadcast": _subscribed,
    "contactCreatedAt": _created_at,
    "contactCreatedDateMinutesAgo": _minutes_ago,
    "source": _source,
    "conversationTransferredToHuman": _transferred,
    "interactedInLast24h": _interacted,
    "archived": _archived,
    "blocked": _blocked,
    "existingContact": _existing_contact,
    "currentChannel": _current_channel,
    "email": _email,
    "phone": _phone,
    "tags": _tags,
    "customFields": _custom_fields,
    "executedFlow": _executed_flow,
    "locale": _locale,
}


KEYWORD_COLUMNS = (
    Contact.first_name,
    Contact.last_name,
    Contact.full_name,
    Contact.email,
    Contact.phone_number,
)
SEARCHED = frozenset(column.key for column in KEYWORD_COLUMNS)

# PostgreSQL only (migration 0008): one narrow row per contact (with its created_at, the default order),
# written by the database's triggers on every INSERT, UPDATE and DELETE of contact (so no write path can leave
# it stale), with one trigram index.
# search_text is the lower-cased KEYWORD_COLUMNS joined by SEARCH_SEPARATOR (first and last name left out
# when the full name is exactly "first last", which then holds them), phone last. SQLite has neither and
# searches the columns.
contact_search = table(
    "contact_search",
    column("contact_id", BigInteger),
    column("workspace_id", BigInteger),
    column("created_at", UTCDateTime()),
    column("search_text", Text),
)
SEARCH_TEXT = contact_search.c.search_text
SEARCH_SEPARATOR = "\x1f"

PHONE_PUNCTUATION = frozenset(" +-().")


class ByDialect(ColumnElement[bool]):
    """A condition written one way for PostgreSQL and another for the other databases (SQLite)."""

    inherit_cache = True
    type = Boolean()
    _traverse_internals = [
        ("postgresql", InternalTraversal.dp_clauseelement),
        ("other", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, postgresql: ColumnElement[bool], other: ColumnElement[bool]):
        self.postgresql = postgresql
        self.other = other


@compiles(ByDialect)
def _compile_other(element: ByDialect, compiler: Any, **kw: Any) -> str:
    return f"({compiler.process(element.other, **kw)})"


@compiles(ByDialect, "postgresql")
def _compile_postgresql(element: ByDialect, compiler: Any, **kw: Any) -> str:
    return f"({compiler.process(element.postgresql, **kw)})"


def _searched(needle: str) -> ColumnElement[bool]:
    """search_text contains `needle` (already lower-cased and LIKE-escaped)."""
    return SEARCH_TEXT.like(f"%{needle}%", escape="\\")


def _searched_contacts(workspace_id: int, condition: ColumnElement[bool]) -> ColumnElement[bool]:
    """Contact is one of the workspace's contacts whose contact_search row meets `condition`."""
    ids = select(contact_search.c.contact_id).where(contact_search.c.workspace_id == workspace_id, condition)
    return Contact.id.in_(ids)


def searched_prefilter(workspace_id: int, needle: str) -> ColumnElement[bool]:
    """A necessary condition for one of KEYWORD_COLUMNS to contain `needle` (lower-cased, LIKE-escaped): on
    PostgreSQL the contact's search_text contains it, through the trigram index; elsewhere always true."""
    return ByDialect(_searched_contacts(workspace_id, _searched(needle)), true())


@dataclasses.dataclass(frozen=True, slots=True)
class Keyword:
    """A parsed `keyword`: case-insensitive contains on first, last and full name, email and phone.

    Its conditions carry the keyword's values as named bound parameters (KEYWORD_PARAMS), so a statement
    built once from any keyword with the same `digits`-ness runs for another with `params()` (see
    contacts.service's keyword statements)."""

    needle: str  # stripped and lower-cased
    escaped: str  # ... and LIKE-escaped
    digits: str | None  # the digits of a phone-like keyword ("+84 90-1" -> "84901"), matched on phones

    @property
    def spans_fields(self) -> bool:
        """A keyword holding the separator could match across two fields of search_text."""
        return SEARCH_SEPARATOR in self.needle

    def params(self) -> dict[str, str]:
        """The values of the bound parameters of `on_columns` and `on_search_text`."""
        values = {KEYWORD_LIKE: f"%{self.escaped}%"}
        if self.digits:
            values[KEYWORD_DIGITS_LIKE] = f"%{self.digits}%"
            # The phone is search_text's last part; the digits contain no regular expression syntax.
            values[KEYWORD_PHONE_PATTERN] = (
                f"{SEARCH_SEPARATOR}[^{SEARCH_SEPARATOR}]*{self.digits}[^{SEARCH_SEPARATOR}]*$"
            )
        return values

    def _bound(self, name: str) -> Any:
        return bindparam(name, self.params()[name], type_=String())

    def on_columns(self, cols: Any = Contact.__table__.c) -> ColumnElement[bool]:
        """The match on the contact's own columns (`cols`: contact's, or a subquery's with the same names)."""
        like = self._bound(KEYWORD_LIKE)
        fields = [func.lower(cols[column.key]).like(like, escape="\\") for column in KEYWORD_COLUMNS]
        if self.digits:
            # lower() changes nothing in digits; it keeps this branch on the same expression as the others.
            fields.append(func.lower(cols["phone_number"]).like(self._bound(KEYWORD_DIGITS_LIKE)))
        return or_(*fields)

    def on_search_text(self) -> ColumnElement[bool]:
        """The match on contact_search.search_text alone (exact unless `spans_fields`)."""
        searched: ColumnElement[bool] = SEARCH_TEXT.like(self._bound(KEYWORD_LIKE), escape="\\")
        if self.digits:
            on_phone = SEARCH_TEXT.op("~")(self._bound(KEYWORD_PHONE_PATTERN))
            searched = or_(searched, and_(SEARCH_TEXT.like(self._bound(KEYWORD_DIGITS_LIKE)), on_phone))
        return searched


# The names of a keyword's bound parameters (Keyword.params).
KEYWORD_LIKE = "keyword_like"
KEYWORD_DIGITS_LIKE = "keyword_digits_like"
KEYWORD_PHONE_PATTERN = "keyword_phone_pattern"


def parse_keyword(keyword: str | None) -> Keyword | None:
    """The keyword to search, or None when it is absent or blank; a NUL is a 422."""
    if keyword is None:
        return None
    if "\x00" in keyword:
        raise invalid_field("keyword", "must not contain NUL characters")
    needle = keyword.strip().lower()
    if not needle:
        return None
    # "+84 90-123" should find +8490123...: phones are stored as E.164 digits. Only for input that looks like
    # a phone number: "smith12345" must not match every phone with 12345.
    digits = "".join(ch for ch in needle if ch.isdigit())
    phone_like = all(ch.isdigit() or ch in PHONE_PUNCTUATION for ch in needle)
    phone_digits = digits if len(digits) >= 3 and digits != needle and phone_like else None
    return Keyword(needle, _like_escape(needle), phone_digits)


def keyword_clause(workspace_id: int, keyword: str) -> ColumnElement[bool]:
    """Case-insensitive contains on first, last and full name, email and phone (true for a blank keyword).

    PostgreSQL: the contact's contact_search row matches, through its one trigram index (migration 0008). A
    keyword without the separator matches search_text exactly when it matches one of the fields (a match
    cannot span two fields); one with it is also checked on the fields themselves. SQLite: lower(col) LIKE
    on each field.
    """
    parsed = parse_keyword(keyword)
    if parsed is None:
        return true()
    anywhere = parsed.on_columns()
    searched = _searched_contacts(workspace_id, parsed.on_search_text())
    if parsed.spans_fields:
        searched = and_(searched, anywhere)
    return ByDialect(searched, anywhere)


def channels_clause(
    workspace_id: int, channels: Sequence[str] | None = None, inbox_ids: Sequence[int] | None = None
) -> ColumnElement[bool]:
    """Contacts with a ContactInbox on an inbox of one of `channels` and/or one of `inbox_ids`."""
    clauses = []
    if channels:
        unknown = [c for c in channels if c not in CHANNELS]
        if unknown:
            raise invalid_field("channels", f"unknown channel {unknown[0]!r}; one of {', '.join(CHANNELS)}")
        clauses.append(Inbox.channel.in_(sorted(set(channels))))
    if inbox_ids:
        clauses.append(Inbox.id.in_(sorted(set(inbox_ids))))
    if not clauses:
        return true()
    on_inbox = (
        select(ContactInbox.id)
        .join(Inbox, Inbox.id == ContactInbox.inbox_id)
        .where(ContactInbox.contact_id == Contact.id, Inbox.workspace_id == workspace_id, *clauses)
    )
    return on_inbox.exists()


__all__ = [
    "CHANNELS",
    "FIELD_KINDS",
    "OPERATORS",
    "OPERATORS_BY_KIND",
    "channels_clause",
    "contact_filter_clause",
    "custom_field_ids",
    "keyword_clause",
    "parse_contact_filter",
    "parse_keyword",
]
