#!/usr/bin/env python3
"""Independent oracle for audex's end-to-end tests: what a CSV segment should upload.

Reads a CSV file (header row; every cell is text, as audex reads CSV) and computes, for the
email, phone and mobile-advertiser-id columns, the set of values audex should send to Facebook
and how many rows each column rejects, by reason. It shares no code with audex: hashing is
``hashlib``, phone parsing is ``phonenumbers`` (the Python port of Google's libphonenumber,
whereas audex uses the Rust port ``rlibphonenumber``).

Usage::

    python3 tests/python/expected_sets.py CSV --email COL --phone COL --madid COL \
        [--country COL] [--default-country US] [--delimiter ,]

Output (stdout, one JSON object, deterministic)::

    {"email": [sorted unique values], "phone": [...], "madid": [...],
     "rejected": {"email": {"reason": count}, "phone": {...}, "madid": {...}},
     "rows": N}

Only reasons that occur are listed; reasons and values are sorted.

Rules (Meta's published normalization, as audex documents it). For every column, a null cell is
``missing`` and a value that is empty after stripping is ``empty``. In a CSV file an empty field
(``,,`` or ``,"",``) is null, as audex's CSV reader reads it, so it counts as ``missing``; a
whitespace-only field counts as ``empty``. "Strip" is Python's ``str.strip()``.

email
    Strip. A value of exactly 64 hex digits is an already-hashed email: passed through
    lower-cased. Otherwise lower-case it (``str.lower()``); it is valid iff it has exactly one
    ``@``, a non-empty local part and domain, and no whitespace or control character (Unicode
    category Cc) anywhere; the output is the SHA-256 hex digest of its UTF-8 bytes. Else
    ``malformed_email``.

phone
    Strip; a 64-hex value passes through lower-cased. The number's country, in order:

    1. a number written with a leading ``+`` (the first ``+`` or digit of the text is ``+``, so
       ``(+44) 20 ...`` counts) carries its own country code;
    2. else the row's country (country column, stripped and upper-cased) if that cell is not
       empty; a code that is not a region ``phonenumbers`` has metadata for is
       ``invalid_country``;
    3. else ``--default-country``; without one the row is ``missing_country``.

    The number is parsed with ``phonenumbers.parse(text, region)`` and must pass
    ``phonenumbers.is_valid_number``. If it does not (or does not parse) and its digits start
    with ``00``, ``00`` is read as the international call prefix: ``"+" + rest`` is parsed
    instead. A ``00`` number is read that way straight away when no usable country is known (no
    row country and no default, or an invalid row country), so it is ``invalid_phone`` rather
    than ``missing_country``/``invalid_country`` when that reading fails. A text without any
    digit is ``invalid_phone`` whatever the country. Output: SHA-256 hex of the E.164 digits
    without ``+``. Invalid or unparseable numbers are ``invalid_phone``.

madid
    Strip, lower-case; must be an 8-4-4-4-12 hex UUID (``invalid_madid`` otherwise; a 64-hex
    digest is invalid too, since advertiser ids are never hashed); the all-zero UUID is
    ``zero_madid``. Output: the normalized UUID itself, not hashed.

Exit status: 0 on success, 2 on a usage error (unknown column, unknown default country).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import re
import sys
import unicodedata
from collections import Counter

import phonenumbers

HEX64 = re.compile(r"[0-9a-fA-F]{64}")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
ZERO_UUID = "00000000-0000-0000-0000-000000000000"
PLUS_SIGNS = "+\uff0b"  # ASCII plus and the full-width plus libphonenumber also accepts

# Reason codes (audex's `rejected` keys).
MISSING = "missing"
EMPTY = "empty"
MALFORMED_EMAIL = "malformed_email"
INVALID_PHONE = "invalid_phone"
MISSING_COUNTRY = "missing_country"
INVALID_COUNTRY = "invalid_country"
INVALID_MADID = "invalid_madid"
ZERO_MADID = "zero_madid"


class Rejected(Exception):
    """A value that is not uploaded; ``args[0]`` is the reason code."""

    @property
    def reason(self) -> str:
        return self.args[0]


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def stripped(raw: str | None) -> str:
    """The stripped value, or `Rejected` for a null (missing) or blank (empty) cell."""
    if raw is None:
        raise Rejected(MISSING)
    value = raw.strip()
    if not value:
        raise Rejected(EMPTY)
    return value


def normalize_email(raw: str | None) -> str:
    value = stripped(raw)
    if HEX64.fullmatch(value):
        return value.lower()
    if len(value.encode("utf-8")) > 254:  # RFC 5321's longest deliverable address
        raise Rejected(MALFORMED_EMAIL)
    value = value.lower()
    local, at, domain = value.partition("@")
    if (
        not at
        or "@" in domain
        or not local
        or not domain
        or any(c.isspace() or unicodedata.category(c) == "Cc" for c in value)
    ):
        raise Rejected(MALFORMED_EMAIL)
    return sha256_hex(value)


def known_region(code: str) -> bool:
    """Whether `code` (upper case) is a region phonenumbers has numbering metadata for."""
    return code in phonenumbers.SUPPORTED_REGIONS


def number_start(text: str) -> int | None:
    """Index of the first `+` or decimal digit of `text` (where a phone number begins)."""
    for i, c in enumerate(text):
        if c in PLUS_SIGNS or unicodedata.decimal(c, None) is not None:
            return i
    return None


def parse_valid(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    """The number parsed from `text` in `region` if phonenumbers considers it valid."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def normalize_phone(raw: str | None, row_country: str | None, default_country: str | None) -> str:
    value = stripped(raw)
    if HEX64.fullmatch(value):
        return value.lower()
    start = number_start(value)
    if start is None:
        raise Rejected(INVALID_PHONE)  # no digit at all: not a phone number
    has_plus = value[start] in PLUS_SIGNS
    double_zero = value.startswith("00", start)

    country = (row_country or "").strip().upper()
    if country:
        region = country if known_region(country) else None
        no_region_reason = INVALID_COUNTRY
    else:
        region = default_country
        no_region_reason = MISSING_COUNTRY

    if has_plus:
        number = parse_valid(value, region)  # the number's own country code wins
    elif region is None:
        if not double_zero:
            raise Rejected(no_region_reason)
        number = None  # nothing to read `00...` against but the international prefix
    else:
        number = parse_valid(value, region)
    if number is None and double_zero:
        number = parse_valid("+" + value[start + 2 :], region)
    if number is None:
        raise Rejected(INVALID_PHONE)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return sha256_hex(e164.lstrip("+"))


def normalize_madid(raw: str | None) -> str:
    value = stripped(raw).lower()
    if not UUID.fullmatch(value):
        raise Rejected(INVALID_MADID)
    if value == ZERO_UUID:
        raise Rejected(ZERO_MADID)
    return value


def usage_error(message: str) -> None:
    print(f"expected_sets.py: error: {message}", file=sys.stderr)
    sys.exit(2)


def column_index(header: list[str], name: str, option: str) -> int:
    """Position of column `name` in the header (names compared stripped, as audex does)."""
    names = [h.strip() for h in header]
    if name not in names:
        usage_error(f"{option} column {name!r} is not in the header {names}")
    return names.index(name)


def expected_sets(
    path: str,
    email_col: str,
    phone_col: str,
    madid_col: str,
    country_col: str | None,
    default_country: str | None,
    delimiter: str = ",",
) -> dict:
    values = {"email": set(), "phone": set(), "madid": set()}
    rejected = {"email": Counter(), "phone": Counter(), "madid": Counter()}
    rows = 0
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f, delimiter=delimiter)
        header = next(reader, None)
        if not header:
            usage_error(f"{path} is empty; a header row is expected")
        email_i = column_index(header, email_col, "--email")
        phone_i = column_index(header, phone_col, "--phone")
        madid_i = column_index(header, madid_col, "--madid")
        country_i = column_index(header, country_col, "--country") if country_col else None

        def cell(record: list[str], i: int) -> str | None:
            # An empty field, or one the line does not have, is null.
            return record[i] if i < len(record) and record[i] != "" else None

        for record in reader:
            rows += 1
            country = cell(record, country_i) if country_i is not None else None
            checks = (
                ("email", lambda: normalize_email(cell(record, email_i))),
                ("phone", lambda: normalize_phone(cell(record, phone_i), country, default_country)),
                ("madid", lambda: normalize_madid(cell(record, madid_i))),
            )
            for field, normalize in checks:
                try:
                    values[field].add(normalize())
                except Rejected as r:
                    rejected[field][r.reason] += 1

    return {
        "email": sorted(values["email"]),
        "phone": sorted(values["phone"]),
        "madid": sorted(values["madid"]),
        "rejected": {field: dict(sorted(counts.items())) for field, counts in rejected.items()},
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Expected upload sets of a CSV segment (independent oracle for audex).",
    )
    parser.add_argument("csv", metavar="CSV", help="CSV file with a header row")
    parser.add_argument("--email", required=True, metavar="COL", help="email column")
    parser.add_argument("--phone", required=True, metavar="COL", help="phone column")
    parser.add_argument("--madid", required=True, metavar="COL", help="mobile advertiser id column")
    parser.add_argument("--country", metavar="COL", help="per-row country column (ISO-2)")
    parser.add_argument(
        "--default-country", metavar="CC", help="country of phones without + or row country"
    )
    parser.add_argument("--delimiter", default=",", help="field delimiter (default ,)")
    args = parser.parse_args(argv)

    default = None
    if args.default_country is not None:
        default = args.default_country.strip().upper()
        if not known_region(default):
            parser.error(f"--default-country {args.default_country!r} is not a known region")

    result = expected_sets(
        args.csv, args.email, args.phone, args.madid, args.country, default, args.delimiter
    )
    json.dump(result, sys.stdout, ensure_ascii=True, separators=(",", ":"))
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
