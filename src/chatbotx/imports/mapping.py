"""Which CSV column feeds which contact field: an explicit mapping, or headers recognised by name."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping

from chatbotx.kit.errors import invalid_field

CUSTOM_PREFIX = "customField:"
STANDARD_TARGETS = (
    "firstName",
    "lastName",
    "fullName",
    "email",
    "phoneNumber",
    "gender",
    "locale",
    "timezone",
    "country",
    "state",
    "city",
    "ref",
    "source",
    "tags",
    "sourceId",
)
_ALIASES = {
    "firstName": ("first", "firstname", "givenname", "forename", "fname"),
    "lastName": ("last", "lastname", "surname", "familyname", "lname"),
    "fullName": ("name", "fullname", "contactname", "displayname"),
    "email": ("email", "emailaddress", "mail", "emailid"),
    "phoneNumber": (
        "phone",
        "phonenumber",
        "phoneno",
        "mobile",
        "mobilephone",
        "mobilenumber",
        "cell",
        "cellphone",
        "tel",
        "telephone",
        "msisdn",
        "whatsapp",
        "whatsappnumber",
    ),
    "gender": ("gender", "sex"),
    "locale": ("locale", "language", "lang"),
    "timezone": ("timezone", "tz"),
    "country": ("country", "countrycode"),
    "state": ("state", "province", "region"),
    "city": ("city", "town"),
    "ref": ("ref", "reference", "externalid"),
    "source": ("source",),
    "tags": ("tags", "tag", "labels"),
    "sourceId": ("sourceid",),
}
HEADER_ALIASES = {alias: target for target, aliases in _ALIASES.items() for alias in aliases}


@dataclasses.dataclass(frozen=True, slots=True)
class FieldDef:
    id: int
    name: str
    type: str


@dataclasses.dataclass(frozen=True, slots=True)
class ColumnPlan:
    """Column `index` (headed `header`) goes to `target`; custom fields carry their definition."""

    index: int
    header: str
    target: str
    field: FieldDef | None = None


def squash(text: str) -> str:
    """'First Name', 'first_name' and 'FIRST-NAME' all become 'firstname'."""
    return re.sub(r"[^0-9a-z]", "", text.lower())


def _custom_field(name: str, fields: Mapping[str, FieldDef]) -> FieldDef | None:
    exact = fields.get(name)
    if exact is not None:
        return exact
    lowered = name.strip().lower()
    return next((f for key, f in fields.items() if key.lower() == lowered), None)


def _target_for(value: str, fields: Mapping[str, FieldDef]) -> tuple[str, FieldDef | None] | None:
    """A mapping value ('email', 'customField:plan') as (target, field), or None if unknown."""
    if value.lower().startswith(CUSTOM_PREFIX.lower()):
        field = _custom_field(value[len(CUSTOM_PREFIX) :].strip(), fields)
        return (CUSTOM_PREFIX + field.name, field) if field else None
    by_name = {t.lower(): t for t in STANDARD_TARGETS}
    target = by_name.get(value.strip().lower())
    return (target, None) if target else None


def _header_index(header: list[str], column: str) -> int | None:
    if column in header:
        return header.index(column)
    lowered = column.strip().lower()
    return next((i for i, h in enumerate(header) if h.strip().lower() == lowered), None)


def plan_from_mapping(
    header: list[str], mapping: Mapping[str, str | None], fields: Mapping[str, FieldDef]
) -> list[ColumnPlan]:
    """Only the mapped columns are imported; a column mapped to null or "" is ignored."""
    plans: list[ColumnPlan] = []
    used: set[str] = set()
    for column, value in mapping.items():
        if value is None or not value.strip():
            continue
        index = _header_index(header, column)
        if index is None:
            raise invalid_field("mapping", f"the file has no column {column!r}")
        resolved = _target_for(value, fields)
        if resolved is None:
            raise invalid_field(
                "mapping",
                f"{value!r} (for column {column!r}) is not a contact field: use one of "
                f"{', '.join(STANDARD_TARGETS)} or customField:<name> of an existing custom field",
            )
        target, field = resolved
        if target in used and target != "tags":
            raise invalid_field("mapping", f"two columns map to {target!r}")
        used.add(target)
        plans.append(ColumnPlan(index, header[index], target, field))
    return _checked(plans)


def plan_from_headers(header: list[str], fields: Mapping[str, FieldDef]) -> list[ColumnPlan]:
    """Recognise headers: field names and common aliases, `customField:<name>`, or a custom field's name.

    When two columns would fill the same field, the first one wins.
    """
    plans: list[ColumnPlan] = []
    used: set[str] = set()
    for index, raw in enumerate(header):
        resolved: tuple[str, FieldDef | None] | None = None
        if raw.lower().startswith(CUSTOM_PREFIX.lower()):
            resolved = _target_for(raw, fields)
        elif (alias := HEADER_ALIASES.get(squash(raw))) is not None:
            resolved = (alias, None)
        elif (field := _custom_field(raw, fields)) is not None:
            resolved = (CUSTOM_PREFIX + field.name, field)
        if resolved is None or resolved[0] in used:
            continue
        used.add(resolved[0])
        plans.append(ColumnPlan(index, raw, resolved[0], resolved[1]))
    return _checked(plans)


def _checked(plans: list[ColumnPlan]) -> list[ColumnPlan]:
    if not plans:
        raise invalid_field(
            "mapping",
            "no column of the file maps to a contact field; name the columns (e.g. email, phone, first name) "
            "or pass a mapping",
        )
    return plans


def plan_columns(
    header: list[str], mapping: Mapping[str, str | None] | None, fields: Mapping[str, FieldDef]
) -> list[ColumnPlan]:
    if mapping:
        return plan_from_mapping(header, mapping, fields)
    return plan_from_headers(header, fields)
