"""Licence providers: one small interface, the built-in registry and a provincial API."""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass, field
from typing import Protocol

from sqlmodel import Session, col, select

from onething.catalog.licences import TRUST_LEVELS
from onething.catalog.workdays import china_today
from onething.storage.models import Licence

# A provincial platform answers within this many seconds, or it is unavailable: an
# applicant waiting on a page must not wait on a slow platform.
MAX_TIMEOUT = 10.0
# The largest answer read from a provincial platform: a licence's metadata is a few KB.
MAX_ANSWER_BYTES = 1024 * 1024


class ProviderUnavailable(Exception):
    """The provider could not answer (down, slow, or an answer that makes no sense)."""


@dataclass
class LicenceRecord:
    """A licence as a provider gives it (GB/T 36903 metadata)."""

    type_code: str
    number: str
    holder_code: str
    holder_name: str
    issuer: str
    issued_on: dt.date
    expires_on: dt.date | None
    data: dict = field(default_factory=dict)
    file: str | None = None
    trust: str = "A"
    source: str = "onething"

    def valid_on(self, day: dt.date) -> bool:
        """Whether the licence is in force on this day (a long-term one always is)."""
        return self.issued_on <= day and (self.expires_on is None or day <= self.expires_on)

    def as_dict(self) -> dict:
        """Plain JSON data, dates as ISO strings."""
        plain = asdict(self)
        plain["issued_on"] = self.issued_on.isoformat()
        plain["expires_on"] = self.expires_on.isoformat() if self.expires_on else None
        return plain

    @classmethod
    def from_dict(cls, plain: dict, source: str) -> LicenceRecord:
        """Read a licence from plain JSON data; ValueError/KeyError/TypeError if malformed."""
        trust = plain.get("trust", "A")
        if trust not in TRUST_LEVELS:
            raise ValueError("trust")
        expires = plain.get("expires_on")
        data = plain.get("data") or {}
        if not isinstance(data, dict):
            raise TypeError("data")
        return cls(type_code=str(plain["type_code"]), number=str(plain["number"]),
                   holder_code=str(plain["holder_code"]).upper(),
                   holder_name=str(plain["holder_name"]), issuer=str(plain["issuer"]),
                   issued_on=dt.date.fromisoformat(plain["issued_on"]),
                   expires_on=dt.date.fromisoformat(expires) if expires else None,
                   data=data, trust=trust, source=source)


class LicenceProvider(Protocol):
    """Given a holder and a licence type, the holder's licences of that type."""

    name: str

    def licences(self, holder_code: str, type_code: str) -> list[LicenceRecord]:
        """Every licence of this type the holder has (newest first); ProviderUnavailable."""
        ...


class LocalRegistry:
    """The built-in provider: the registry's own table."""

    name = "onething"

    def __init__(self, session: Session):
        self.session = session

    def licences(self, holder_code: str, type_code: str) -> list[LicenceRecord]:
        """The table's licences of this holder and type, not revoked, newest first."""
        rows = self.session.exec(select(Licence).where(
            Licence.holder_code == holder_code.upper(), Licence.type_code == type_code,
            col(Licence.revoked).is_(False)).order_by(col(Licence.issued_on).desc(),
                                                       col(Licence.id).desc())).all()
        return [record_of(row) for row in rows]


def record_of(row: Licence) -> LicenceRecord:
    """A registry row as a provider's record."""
    return LicenceRecord(type_code=row.type_code, number=row.number,
                         holder_code=row.holder_code, holder_name=row.holder_name,
                         issuer=row.issuer, issued_on=row.issued_on, expires_on=row.expires_on,
                         data=dict(row.data or {}), file=row.file, trust=row.trust,
                         source=row.source)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is refused, never followed: the configured URL is the only one asked."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        """Follow nothing."""
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


class HttpRegistry:
    """A provincial platform's licence API at a configured URL.

    `GET <url>?holder=<code>&type=<licence type>` with `Authorization: Bearer <token>`
    answers `{"licences": [{type_code, number, holder_code, holder_name, issuer,
    issued_on, expires_on, data, trust}]}`; 404 means none. Only the configured URL
    is ever asked (the holder and type are query parameters, percent-encoded), a
    redirect is refused, the wait is bounded and the answer is read up to 1 MB.
    """

    name = "provincial"

    def __init__(self, url: str, token: str | None = None, timeout: float = 3.0):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
            raise ValueError("LICENCE_REGISTRY_URL must be an http(s) URL without a query")
        self.url = url
        self.token = token
        self.timeout = min(max(float(timeout), 0.1), MAX_TIMEOUT)

    def licences(self, holder_code: str, type_code: str) -> list[LicenceRecord]:
        """Ask the platform; ProviderUnavailable if it does not answer sensibly in time."""
        query = urllib.parse.urlencode({"holder": holder_code, "type": type_code})
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(f"{self.url}?{query}", headers=headers)
        try:
            with _OPENER.open(request, timeout=self.timeout) as response:
                body = response.read(MAX_ANSWER_BYTES + 1)
        except urllib.error.HTTPError as error:
            error.close()
            if error.code == 404:
                return []
            raise ProviderUnavailable(f"HTTP {error.code}") from error
        except (OSError, ValueError) as error:  # refused, timed out, reset, bad URL
            raise ProviderUnavailable(str(error)) from error
        if len(body) > MAX_ANSWER_BYTES:
            raise ProviderUnavailable("answer too large")
        try:
            found = json.loads(body)["licences"]
            records = [LicenceRecord.from_dict(item, self.name) for item in found]
        except (ValueError, KeyError, TypeError) as error:
            raise ProviderUnavailable(f"malformed answer: {error}") from error
        # Only what was asked for: a platform's answer about another holder is not used.
        return sorted((r for r in records
                       if r.holder_code == holder_code.upper() and r.type_code == type_code),
                      key=lambda r: r.issued_on, reverse=True)


class Chain:
    """The registry first, then the provincial platform: a certificate issued here is known
    here at once, before the platform has it."""

    name = "chain"

    def __init__(self, *providers: LicenceProvider):
        self.providers = providers

    def licences(self, holder_code: str, type_code: str) -> list[LicenceRecord]:
        """The first provider's licences that has one in force today; else the first that
        has any (an expired one, to say so), else none."""
        today = china_today()
        first: list[LicenceRecord] = []
        for provider in self.providers:
            found = provider.licences(holder_code, type_code)
            # An expired licence kept here does not hide the renewed one the province holds.
            if any(record.valid_on(today) for record in found):
                return found
            first = first or found
        return first


def provider_for(config, session: Session) -> LicenceProvider:
    """The provider a deployment is configured with (LICENCE_REGISTRY_URL)."""
    local = LocalRegistry(session)
    url = config.get("LICENCE_REGISTRY_URL")
    if not url:
        return local
    return Chain(local, HttpRegistry(url, config.get("LICENCE_REGISTRY_TOKEN"),
                                     config.get("LICENCE_REGISTRY_TIMEOUT", 3)))
