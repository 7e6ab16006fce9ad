"""ISO 3166-1 alpha-2 country codes by continent, for the `continent` contact filter."""

from __future__ import annotations

_BY_CONTINENT = {
    "AF": "DZ AO BJ BW BF BI CV CM CF TD KM CD CG CI DJ EG GQ ER SZ ET GA GM GH GN GW KE LS LR LY MG "
    "MW ML MR MU YT MA MZ NA NE NG RE RW SH ST SN SC SL SO ZA SS SD TZ TG TN UG EH ZM ZW",
    "AN": "AQ BV GS HM TF",
    "AS": "AF AM AZ BH BD BT BN KH CN CY GE HK IN ID IR IQ IL JP JO KZ KW KG LA LB MO MY MV MN MM NP "
    "KP OM PK PS PH QA SA SG KR LK SY TW TJ TH TL TR TM AE UZ VN YE IO CC CX",
    "EU": "AX AL AD AT BY BE BA BG HR CZ DK EE FO FI FR DE GI GR GG HU IS IE IM IT JE XK LV LI LT LU "
    "MT MD MC ME NL MK NO PL PT RO RU SM RS SK SI ES SJ SE CH UA GB VA",
    "NA": "AI AG AW BS BB BZ BM BQ VG CA KY CR CU CW DM DO SV GL GD GP GT HT HN JM MQ MX MS NI PA PR "
    "BL KN LC MF PM VC SX TT TC US VI UM",
    "OC": "AS AU CK FJ PF GU KI MH FM NR NC NZ NU NF MP PW PG PN WS SB TK TO TV VU WF",
    "SA": "AR BO BR CL CO EC FK GF GY PY PE SR UY VE",
}

COUNTRIES_BY_CONTINENT: dict[str, frozenset[str]] = {
    k: frozenset(v.split()) for k, v in _BY_CONTINENT.items()
}
CONTINENT_OF: dict[str, str] = {
    country: continent for continent, countries in COUNTRIES_BY_CONTINENT.items() for country in countries
}
ALL_COUNTRIES: frozenset[str] = frozenset(CONTINENT_OF)

# Names people type for a continent, mapped to its code.
_ALIASES = {
    "africa": "AF",
    "antarctica": "AN",
    "asia": "AS",
    "europe": "EU",
    "northamerica": "NA",
    "oceania": "OC",
    "australia": "OC",
    "southamerica": "SA",
}


def continent_code(value: str) -> str | None:
    """The continent code (AF, AN, AS, EU, NA, OC, SA) for a code or a name, or None."""
    text = value.strip()
    if text.upper() in COUNTRIES_BY_CONTINENT:
        return text.upper()
    return _ALIASES.get("".join(ch for ch in text.lower() if ch.isalpha()))


def continent_of(country: str | None) -> str | None:
    """The continent of an ISO alpha-2 country code (any case), or None."""
    return CONTINENT_OF.get(country.strip().upper()) if country else None
