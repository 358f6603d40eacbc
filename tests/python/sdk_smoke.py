#!/usr/bin/env python3
"""Smoke test: Meta's official Python Business SDK, unmodified, against audex's Graph emulator.

Usage::

    python3 tests/python/sdk_smoke.py --url http://127.0.0.1:PORT --token TOKEN \
        [--app-secret SECRET] [--app-id 1234567890] [--account act_1000000001] \
        [--api-version v26.0] [--page-size 2] [--no-verify]

Steps, all through ``facebook_business`` (the ``facebook-business`` package on PyPI):

1. ``FacebookAdsApi.init(app_id, app_secret, access_token, api_version=...)``; with an app
   secret the SDK adds ``appsecret_proof`` to every request.
2. ``User(fbid='me').get_ad_accounts(fields=[...])``, iterating every page (a small ``limit``
   makes the SDK's cursor follow ``paging.cursors.after``).
3. ``AdAccount(account).create_custom_audience(params={name, subtype: CUSTOM,
   customer_file_source: USER_PROVIDED_ONLY})``.
4. ``CustomAudience(id).add_users(schema=CustomAudience.Schema.email_hash, users=[raw
   emails])``: the SDK normalizes (strip, lower-case) and SHA-256-hashes them.
5. Multi-key: on a second audience (Facebook, and the emulator, refuse mixing single-key and
   multi-key payloads in one audience), ``add_users(schema=[EMAIL, PHONE], users=[[email,
   phone], ...], is_raw=True)``, which the SDK also normalizes and hashes per key.
6. Unless ``--no-verify``: reads both audiences back from the emulator's test control
   ``GET {url}/_emulator/audiences/{id}`` (plain HTTP, not the SDK) and checks the members are
   exactly the SHA-256 digests of the normalized identifiers, computed here independently.

Output: one JSON line on stdout, ``{"accounts": N, "audience_id": "...", "num_received": N}``
(the single-key audience), exit status 0. Progress goes to stderr. Any failure (an SDK
``FacebookRequestError``, a verification mismatch) is printed to stderr with exit status 1.

The app secret is optional because the emulator's example server (``cargo run -p
audex-emulator --example serve``) prints its URL and token but not its (random) app secret;
without one the SDK sends no ``appsecret_proof``, which the emulator accepts. The proof is only
checked when present, so pass the real secret when the emulator was started with a known one.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
import urllib.parse

import requests
from facebook_business.adobjects.adaccount import AdAccount
from facebook_business.adobjects.customaudience import CustomAudience
from facebook_business.adobjects.user import User
from facebook_business.api import FacebookAdsApi
from facebook_business.exceptions import FacebookError
from facebook_business.session import FacebookSession

# Raw emails, deliberately messy: the SDK must normalize them (strip, lower-case) before hashing.
EMAILS = [
    "  Alice.Smith@Example.com",
    "BOB@EXAMPLE.ORG\t",
    "carol+ads@example.net",
]
# Multi-key rows [email, phone]: the SDK keeps only the digits of PHONE.
MULTI_KEY_ROWS = [
    ["dave@example.com", "+1 (202) 555-0123"],
    ["Erin@Example.com ", "+44 20 7946 0958"],
]


class SmokeFailure(Exception):
    """A check of this script failed."""


def log(message: str) -> None:
    print(f"sdk_smoke: {message}", file=sys.stderr)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def point_sdk_at(url: str) -> None:
    """Sends every SDK request to `url` instead of https://graph.facebook.com.

    The hook: the class attribute ``FacebookSession.GRAPH`` (facebook_business/session.py,
    documented there as "GRAPH (class): The graph url without an ending forward-slash").
    ``FacebookAdsApi.call`` builds each URL as ``"/".join((url_override or
    self._session.GRAPH, api_version, *path))``, and the helpers that build URLs themselves
    (targeting search, Conversions API event requests, the crash reporter) read
    ``FacebookSession.GRAPH`` too, so setting the class attribute before ``init`` redirects them
    all, with no change to the installed package. (Setting ``GRAPH`` on one session instance,
    ``api._session.GRAPH``, would also work for that api's calls but goes through a private
    attribute and misses the class-level readers.)
    """
    FacebookSession.GRAPH = url.rstrip("/")


def list_accounts(page_size: int) -> list[dict]:
    cursor = User(fbid="me").get_ad_accounts(
        fields=[AdAccount.Field.id, AdAccount.Field.name, AdAccount.Field.account_status],
        params={"limit": page_size},
    )
    return [dict(account.export_all_data()) for account in cursor]  # iterates every page


def create_audience(account: str, name: str) -> str:
    audience = AdAccount(account).create_custom_audience(
        params={
            CustomAudience.Field.name: name,
            CustomAudience.Field.subtype: CustomAudience.Subtype.custom,
            CustomAudience.Field.customer_file_source:
                CustomAudience.CustomerFileSource.user_provided_only,
        }
    )
    audience_id = audience.get_id()
    if not audience_id:
        raise SmokeFailure(f"create_custom_audience answered no id: {audience.export_all_data()}")
    return str(audience_id)


def add_users(audience_id: str, schema, users, **kwargs) -> dict:
    response = CustomAudience(audience_id).add_users(schema=schema, users=users, **kwargs)
    body = response.json()
    if not isinstance(body, dict) or "num_received" not in body:
        raise SmokeFailure(f"add_users to {audience_id} answered {response.body()!r}")
    if body.get("num_invalid_entries", 0):
        raise SmokeFailure(f"add_users to {audience_id}: invalid entries: {body}")
    return body


def emulator_audience(url: str, audience_id: str) -> dict:
    control = f"{url.rstrip('/')}/_emulator/audiences/{urllib.parse.quote(audience_id)}"
    response = requests.get(control, timeout=30)
    if response.status_code != 200:
        raise SmokeFailure(f"GET {control}: HTTP {response.status_code}: {response.text}")
    return response.json()


def verify(url: str, audience_id: str, expected_members: list[str], what: str) -> None:
    detail = emulator_audience(url, audience_id)
    members = sorted(detail.get("members", []))
    if members != sorted(expected_members):
        raise SmokeFailure(
            f"{what} audience {audience_id}: members {members} != expected {sorted(expected_members)}"
        )
    log(f"verified {what} audience {audience_id}: {len(members)} members as expected")


def run(args: argparse.Namespace) -> dict:
    point_sdk_at(args.url)
    FacebookAdsApi.init(
        app_id=args.app_id,
        app_secret=args.app_secret,
        access_token=args.token,
        api_version=args.api_version,
        # The crash reporter would POST SDK tracebacks to {GRAPH}/{app_id}/instruments from a
        # global excepthook; a smoke test must not send anything it did not ask for.
        crash_log=False,
    )

    accounts = list_accounts(args.page_size)
    ids = [a.get("id") for a in accounts]
    log(f"{len(accounts)} ad accounts: {ids}")
    if args.account not in ids:
        raise SmokeFailure(f"{args.account} is not among the user's ad accounts {ids}")

    stamp = time.strftime("%Y%m%dT%H%M%S")
    audience_id = create_audience(args.account, f"sdk smoke {stamp}")
    log(f"created audience {audience_id} on {args.account}")
    single = add_users(audience_id, CustomAudience.Schema.email_hash, EMAILS)
    log(f"add_users EMAIL_SHA256: {single}")

    multi_id = create_audience(args.account, f"sdk smoke multi-key {stamp}")
    keys = CustomAudience.Schema.MultiKeySchema
    multi = add_users(multi_id, [keys.email, keys.phone], MULTI_KEY_ROWS, is_raw=True)
    log(f"created audience {multi_id}; add_users [EMAIL, PHONE]: {multi}")

    if args.verify:
        # Independent expectations: Meta's normalization of these inputs.
        verify(args.url, audience_id, [sha256_hex(e.strip().lower()) for e in EMAILS], "EMAIL_SHA256")
        verify(
            args.url,
            multi_id,
            [
                f"EMAIL={sha256_hex(email.strip().lower())}"
                f"|PHONE={sha256_hex(''.join(c for c in phone if c.isdigit()))}"
                for email, phone in MULTI_KEY_ROWS
            ],
            "multi-key",
        )

    return {"accounts": len(accounts), "audience_id": audience_id, "num_received": single["num_received"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Meta's Python Business SDK against the audex Graph API emulator."
    )
    parser.add_argument("--url", required=True, help="emulator base URL, http://127.0.0.1:PORT")
    parser.add_argument("--token", required=True, help="user access token")
    parser.add_argument("--app-secret", default=None, help="app secret (enables appsecret_proof)")
    parser.add_argument("--app-id", default="1234567890", help="app id (emulator default)")
    parser.add_argument("--account", default="act_1000000001", help="ad account to write to")
    parser.add_argument(
        "--api-version", default=FacebookAdsApi.API_VERSION, help="Graph API version (SDK default)"
    )
    parser.add_argument("--page-size", type=int, default=2, help="limit per ad-account page")
    parser.add_argument(
        "--no-verify", dest="verify", action="store_false",
        help="skip reading the audiences back through /_emulator/audiences/{id}",
    )
    args = parser.parse_args(argv)
    try:
        result = run(args)
    except FacebookError as e:  # FacebookRequestError carries the request and the Graph error
        print(f"sdk_smoke: FAILED: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    except (SmokeFailure, requests.RequestException) as e:
        print(f"sdk_smoke: FAILED: {e}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
