"""Settings, declared in one place with their help text.

Each is read from the app config, which create_app layers as: these
defaults, then `instance/config.py`, then `ONETHING_<NAME>` environment
variables. A test fails when a setting is missing from the README.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


@dataclass(frozen=True)
class Setting:
    """One setting: its name, default and what it is for; `number` when it must be one
    (0 or more), checked on start."""

    name: str
    default: Any
    help: str
    number: bool = False


SETTINGS = [
    Setting("DATABASE_URL", None,
            "SQLAlchemy URL of the database; default: a SQLite file in the instance folder. "
            "PostgreSQL: postgresql+psycopg://user:password@host/dbname"),
    Setting("DATABASE_POOL_SIZE", 10,
            "Database connections kept open for reuse; keep it at least the server's threads "
            "(onething serve --threads, 4 by default)", number=True),
    Setting("SCHEMAS", None,
            "The schemas folder published on start; default: the repository's schemas/"),
    Setting("PUBLISH_ON_START", True,
            "On first start (an empty working catalog), load the schemas folder and publish it"),
    Setting("UPLOAD_MAX_BYTES", 10 * 1024 * 1024,
            "Largest upload accepted for one material, in bytes (checked while streaming)",
            number=True),
    Setting("UPLOAD_DIR", None,
            "Folder of uploaded materials and certificates (kept under their SHA-256) and of "
            "catalog imports awaiting confirmation; default: files/ in the instance folder. "
            "With several hosts, a volume they all mount"),
    Setting("UPLOAD_TYPES", ["application/pdf", "image/jpeg", "image/png"],
            "Content types accepted for materials (checked against the file's first bytes)"),
    Setting("SECRET_KEY", None,
            "Signs session cookies; default: a random key kept in instance/secret_key"),
    Setting("PUBLIC_URL", None,
            "Base URL printed in QR codes and resume links; default: the request's host. "
            "An https:// URL also marks the session cookie Secure"),
    Setting("WEBHOOK_INTERVAL", 5,
            "Seconds between looks for due webhook events, in onething serve (0: serve "
            "delivers nothing, leaving it to onething worker) and in onething worker", number=True),
    Setting("WEBHOOK_TIMEOUT", 5,
            "Seconds one whole delivery attempt may take (connect, send, the answer's "
            "headers); a claim's lease is 6 times this, at least 60 s", number=True),
    Setting("WEBHOOK_THREADS", 4,
            "Endpoints one deliverer posts to at once; each endpoint's events go one after "
            "another, so a slow system delays only its own department", number=True),
    Setting("REMINDER_INTERVAL", 60,
            "Seconds between onething worker's looks for tasks due soon or overdue, each "
            "reported once as a task.due_soon or task.overdue event; each look also "
            "refreshes the statistics' daily summary", number=True),
    Setting("API_SETTLE_SECONDS", 10,
            "Seconds a task's change waits before GET /api/v1/tasks lists it, so that no "
            "cursor passes a change whose transaction, begun earlier, commits later: keep "
            "it above the longest write (SQLite waits up to 10 s for its write lock)", number=True),
    Setting("DEMO_ACCOUNTS", None,
            "Create the README's demo accounts on start; on by default only for the embedded "
            "SQLite database (no DATABASE_URL given)"),
    Setting("DEMO_CASES", None,
            "Plausible cases seeded on the first start into a database holding none "
            "(onething demo seed-cases), so the statistics pages show something; by default "
            "600 for the embedded SQLite database with the repository's demo catalog (no "
            "SCHEMAS given), else 0", number=True),
    Setting("LOGIN_RATE_LIMIT", "10 per 5 minutes",
            "Failed sign-ins allowed per username within the period ('N per [M] "
            "second|minute|hour|day'), and ten times as many per address; counted in the "
            "database, so every process shares it, and successful sign-ins never count"),
    Setting("TRUSTED_PROXIES", 0,
            "Reverse proxies in front of the app whose X-Forwarded-For and X-Forwarded-Proto "
            "are believed (ProxyFix): the client's address, which the sign-in limit counts "
            "by, and https links; 0 believes no header", number=True),
    Setting("METRICS_TOKEN", None,
            "Turns on /metrics (Prometheus: request latencies, submissions, tasks by status, "
            "the webhook outbox), answered only with the header 'Authorization: Bearer' "
            "and this token; unset, /metrics is not found"),
    Setting("APPLICANT_OIDC_ISSUER", None,
            "Applicants' sign-in (统一身份认证) through the province's identity platform: its "
            "OpenID Connect issuer URL; unset, there is no sign-in and applying stays anonymous"),
    Setting("APPLICANT_OIDC_METADATA_URL", None,
            "Where the issuer's metadata is read; default: the issuer's "
            "/.well-known/openid-configuration. The endpoints it names must be on the "
            "issuer's own host: no other URL is ever fetched"),
    Setting("APPLICANT_OIDC_CLIENT_ID", None,
            "The client id the identity platform registered for this hall"),
    Setting("APPLICANT_OIDC_CLIENT_SECRET", None,
            "The client secret the identity platform gave with the client id (sent as HTTP "
            "Basic authentication to its token endpoint)"),
    Setting("APPLICANT_OIDC_SCOPES", "openid profile phone",
            "Scopes asked for at sign-in (openid is always asked)"),
    Setting("APPLICANT_OIDC_NAME_CLAIM", "name",
            "The claim holding the applicant's verified name"),
    Setting("APPLICANT_OIDC_ID_NUMBER_CLAIM", "id_card_number",
            "The claim holding the applicant's verified resident identity card number"),
    Setting("APPLICANT_OIDC_MOBILE_CLAIM", "phone_number",
            "The claim holding the applicant's verified mobile phone number"),
    Setting("APPLICANT_OIDC_TIMEOUT", 5,
            "Seconds one request to the identity platform may take to connect and answer",
            number=True),
    Setting("RECTIFICATION_DAYS", 5,
            "Working days a department has to verify, fix and answer a bad rating (差评整改) "
            "from the day it is given, on the hall's holiday calendar; local rules say 5, "
            "some provinces 15", number=True),
    Setting("LICENCE_REGISTRY_URL", None,
            "A provincial platform's electronic licence API (电子证照), asked with GET "
            "?holder=&type= when the built-in registry does not hold a licence; unset: the "
            "built-in registry only. Configuration only: no request chooses the URL, and a "
            "redirect is refused"),
    Setting("LICENCE_REGISTRY_TOKEN", None,
            "Bearer token sent to LICENCE_REGISTRY_URL, if the platform wants one"),
    Setting("LICENCE_REGISTRY_TIMEOUT", 3,
            "Seconds a licence lookup waits for LICENCE_REGISTRY_URL (at most 10); past it "
            "the applicant is told the platform did not answer and may upload instead",
            number=True),
    Setting("LICENCE_LOOKUP_MAX_AGE", 60,
            "Minutes a licence lookup the materials page recorded from LICENCE_REGISTRY_URL "
            "stays good for submitting, which asks no platform over the network; older, the "
            "applicant is asked to open the materials page to look again", number=True),
    Setting("AREA_SERVED", "青岛市",
            "The area the hall serves, named in each guide's structured data for search "
            "engines (schema.org GovernmentService areaServed)"),
]


class SettingsError(ValueError):
    """Settings that cannot be used, each said with its name and what is wanted."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def problems(config: dict[str, Any]) -> list[str]:
    """What is wrong with the numeric settings as configured: a value copied with its
    comment ('1  # the nginx in front') is said on start, not met at a request. Those
    written as text ('2.5') or as true/false are converted in `config` on the way."""
    found = []
    for setting in SETTINGS:
        value = config.get(setting.name)
        if not setting.number or value is None:
            continue
        if isinstance(value, bool):
            # ONETHING_DEMO_CASES=false, ONETHING_TRUSTED_PROXIES=true: read as JSON, and
            # taken as 0 and 1 before this check, so they still are.
            value = config[setting.name] = int(value)
        if isinstance(value, str):
            try:
                value = float(value) if "." in value else int(value)
            except ValueError:
                found.append(f"{setting.name}: {value!r} is not a number")
                continue
            config[setting.name] = value
        if not isinstance(value, int | float) or value < 0:
            found.append(f"{setting.name}: {value!r} is not a number of 0 or more")
    return found


def defaults() -> dict[str, Any]:
    """The default value of every setting, for app.config."""
    return {setting.name: setting.default for setting in SETTINGS}


def upload_dir(app: Flask) -> Path:
    """Where uploads are kept: the UPLOAD_DIR setting, else files/ in the instance folder."""
    return Path(app.config.get("UPLOAD_DIR") or Path(app.instance_path) / "files")


def schemas_root(app: Flask) -> Path:
    """The schemas folder of this app: the SCHEMAS setting, else the platform's own."""
    from onething.catalog.loader import default_root

    return Path(app.config.get("SCHEMAS") or default_root())
