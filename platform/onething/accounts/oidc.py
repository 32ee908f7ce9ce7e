"""Applicants' sign-in (统一身份认证) through the province's identity platform, by OpenID Connect.

The authorization code flow with PKCE (S256), state and nonce, built on authlib's
OAuth 2 parameters; the id_token is verified with joserfc (authlib's JOSE library):
signature against the issuer's published keys, issuer, audience, expiry, nonce.

The server fetches only the configured issuer's metadata and the endpoints it names
(token, userinfo, keys), and only when they are on the issuer's own scheme and host:
a forged metadata document cannot make it fetch anything else. Every request has the
APPLICANT_OIDC_TIMEOUT, follows no redirect and reads at most MAX_RESPONSE_BYTES.
Any failure is an `OIDCError` whose `reason` the sign-in page explains; nothing of a
half-finished sign-in is kept.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from base64 import b64encode
from dataclasses import dataclass

from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

# Larger answers are refused: metadata, keys and tokens are a few kilobytes.
MAX_RESPONSE_BYTES = 256 * 1024
# How long the issuer's metadata and keys are kept before they are read again.
METADATA_SECONDS = 3600
# Signature algorithms accepted on an id_token (never "none", never HMAC with the secret).
ALGORITHMS = ["RS256", "ES256", "PS256", "RS384", "ES384", "RS512", "EdDSA"]
# Seconds of clock difference tolerated between the identity platform and this server.
LEEWAY = 120
# The claims kept of a verified identity, by the setting naming each one's claim.
CLAIM_SETTINGS = {"name": "APPLICANT_OIDC_NAME_CLAIM",
                  "id_number": "APPLICANT_OIDC_ID_NUMBER_CLAIM",
                  "mobile": "APPLICANT_OIDC_MOBILE_CLAIM"}


class OIDCError(Exception):
    """A sign-in that cannot go on; `reason` is one of the sign-in page's explanations."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class Identity:
    """What the identity platform verified of the person signing in."""

    subject: str  # SHA-256 of issuer and sub
    name: str | None
    id_number: str | None
    mobile: str | None


def enabled(config) -> bool:
    """Whether this deployment offers applicants' sign-in: an issuer and a client id set."""
    return bool(config.get("APPLICANT_OIDC_ISSUER") and config.get("APPLICANT_OIDC_CLIENT_ID"))


def subject_key(issuer: str, sub: str) -> str:
    """The stored subject: stable for one person of one platform, meaningless elsewhere."""
    return hashlib.sha256(f"{issuer}\n{sub}".encode()).hexdigest()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect is an answer (an error here), never followed


_OPENER = urllib.request.build_opener(_NoRedirect)


def _origin(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _fetch_json(url: str, timeout: float, data: bytes | None = None,
                headers: dict | None = None) -> dict:
    request = urllib.request.Request(url, data=data, headers={
        "Accept": "application/json", **(headers or {})}, method="POST" if data else "GET")
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            body = response.read(MAX_RESPONSE_BYTES + 1)
    except urllib.error.HTTPError as error:
        # The token endpoint says why in JSON (invalid_grant…); keep only its code.
        try:
            said = json.loads(error.read(4096) or b"{}").get("error", "")
        except (ValueError, AttributeError):
            said = ""
        raise OIDCError("refused", f"{url}: HTTP {error.code} {said}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        raise OIDCError("unreachable", f"{url}: {error}") from None
    if len(body) > MAX_RESPONSE_BYTES:
        raise OIDCError("invalid_response", f"{url}: answer too large")
    try:
        value = json.loads(body)
    except ValueError:
        raise OIDCError("invalid_response", f"{url}: not JSON") from None
    if not isinstance(value, dict):
        raise OIDCError("invalid_response", f"{url}: not a JSON object")
    return value


class Provider:
    """The configured identity platform: its metadata and keys, read when first needed."""

    def __init__(self, config):
        self.issuer = str(config["APPLICANT_OIDC_ISSUER"]).rstrip("/")
        self.metadata_url = config.get("APPLICANT_OIDC_METADATA_URL") or \
            f"{self.issuer}/.well-known/openid-configuration"
        self.client_id = str(config["APPLICANT_OIDC_CLIENT_ID"])
        self.client_secret = str(config.get("APPLICANT_OIDC_CLIENT_SECRET") or "")
        scopes = str(config.get("APPLICANT_OIDC_SCOPES") or "").split()
        self.scope = " ".join(["openid", *(s for s in scopes if s != "openid")])
        self.timeout = float(config.get("APPLICANT_OIDC_TIMEOUT") or 5)
        self.claims = {key: config.get(setting) for key, setting in CLAIM_SETTINGS.items()}
        self._lock = threading.Lock()
        self._metadata: dict | None = None
        self._keys: KeySet | None = None
        self._read_at = 0.0

    def _endpoint(self, metadata: dict, name: str, required: bool = True) -> str | None:
        url = metadata.get(name)
        if not url and not required:
            return None
        # Only the issuer's own host: a metadata document naming another makes no fetch.
        if not isinstance(url, str) or _origin(url) != _origin(self.issuer):
            raise OIDCError("invalid_response", f"{name} is not on the issuer's host")
        return url

    def metadata(self) -> dict:
        """The issuer's metadata (checked: its issuer, its endpoints on the issuer's host)."""
        with self._lock:
            if self._metadata is None or time.monotonic() - self._read_at > METADATA_SECONDS:
                if _origin(self.metadata_url) != _origin(self.issuer):
                    raise OIDCError("invalid_response", "metadata is not on the issuer's host")
                found = _fetch_json(self.metadata_url, self.timeout)
                if str(found.get("issuer", "")).rstrip("/") != self.issuer:
                    raise OIDCError("invalid_response", "metadata names another issuer")
                for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                    self._endpoint(found, name)
                self._endpoint(found, "userinfo_endpoint", required=False)
                self._metadata, self._keys, self._read_at = found, None, time.monotonic()
            return self._metadata

    def keys(self, refresh: bool = False) -> KeySet:
        """The issuer's signing keys (read again once when an unknown key id shows up)."""
        metadata = self.metadata()
        with self._lock:
            if self._keys is None or refresh:
                try:
                    self._keys = KeySet.import_key_set(
                        _fetch_json(metadata["jwks_uri"], self.timeout))
                except (JoseError, ValueError, TypeError, KeyError) as error:
                    raise OIDCError("invalid_response", f"keys: {error}") from None
            return self._keys

    def begin(self, redirect_uri: str) -> tuple[str, dict]:
        """The authorization URL to send the browser to, and what to keep until it returns."""
        authorization = self.metadata()["authorization_endpoint"]
        pending = {"state": generate_token(32), "nonce": generate_token(32),
                   "verifier": generate_token(64), "redirect_uri": redirect_uri,
                   "started": int(time.time())}
        url = prepare_grant_uri(
            authorization, self.client_id, "code", redirect_uri=redirect_uri,
            scope=self.scope, state=pending["state"], nonce=pending["nonce"],
            code_challenge=create_s256_code_challenge(pending["verifier"]),
            code_challenge_method="S256")
        return url, pending

    def finish(self, pending: dict, state: str | None, code: str | None,
               error: str | None = None) -> Identity:
        """Exchange the code for tokens, verify the id_token, and read the identity."""
        if not pending or not state or state != pending.get("state"):
            raise OIDCError("state")
        if error:
            raise OIDCError("denied", error)
        if not code:
            raise OIDCError("invalid_response", "no code")
        metadata = self.metadata()
        credentials = b64encode(
            f"{urllib.parse.quote(self.client_id, safe='')}:"
            f"{urllib.parse.quote(self.client_secret, safe='')}".encode()).decode()
        body = urllib.parse.urlencode({
            "grant_type": "authorization_code", "code": code,
            "redirect_uri": pending["redirect_uri"], "code_verifier": pending["verifier"],
        }).encode()
        token = _fetch_json(metadata["token_endpoint"], self.timeout, data=body, headers={
            "Authorization": f"Basic {credentials}",
            "Content-Type": "application/x-www-form-urlencoded"})
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise OIDCError("invalid_response", "no id_token")
        claims = self.verify(id_token, pending["nonce"])
        access_token = token.get("access_token")
        userinfo_url = metadata.get("userinfo_endpoint")
        if userinfo_url and isinstance(access_token, str):
            info = _fetch_json(userinfo_url, self.timeout,
                               headers={"Authorization": f"Bearer {access_token}"})
            # The userinfo of another person is never merged (OIDC Core 5.3.2).
            if info.get("sub") != claims["sub"]:
                raise OIDCError("invalid_token", "userinfo names another subject")
            claims = {**info, **claims}
        found = {key: _text(claims.get(name)) if name else None
                 for key, name in self.claims.items()}
        return Identity(subject_key(self.issuer, str(claims["sub"])), found["name"],
                        found["id_number"] and found["id_number"].upper(),
                        mobile_number(found["mobile"]))

    def verify(self, id_token: str, nonce: str) -> dict:
        """The id_token's claims, once its signature, issuer, audience, expiry and nonce hold."""
        try:
            try:
                decoded = jwt.decode(id_token, self.keys(), algorithms=ALGORITHMS)
            except (ValueError, JoseError):
                # A rotated key: read the keys again, once.
                decoded = jwt.decode(id_token, self.keys(refresh=True), algorithms=ALGORITHMS)
            jwt.JWTClaimsRegistry(
                leeway=LEEWAY,
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.client_id},
                sub={"essential": True},
                exp={"essential": True},
                iat={"essential": True},
                nonce={"essential": True, "value": nonce},
            ).validate(decoded.claims)
        except (JoseError, ValueError, TypeError) as error:
            raise OIDCError("invalid_token", str(error)) from None
        claims = decoded.claims
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.client_id:
            raise OIDCError("invalid_token", "azp is not this client")
        return claims


def mobile_number(value: str | None) -> str | None:
    """A mobile number as the one form takes it: OIDC's phone_number is E.164-like
    ("+86 138-0013-8000"), the form's field eleven digits."""
    if not value:
        return None
    digits = re.sub(r"[\s()-]", "", value)
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            digits = digits[len(prefix):]
    return digits or None


def _text(value) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text[:200] or None


_PROVIDERS: dict[tuple, Provider] = {}
_PROVIDERS_LOCK = threading.Lock()


def provider(config) -> Provider:
    """The provider of this configuration, kept per process with its metadata and keys."""
    key = tuple(str(config.get(name)) for name in (
        "APPLICANT_OIDC_ISSUER", "APPLICANT_OIDC_METADATA_URL", "APPLICANT_OIDC_CLIENT_ID",
        "APPLICANT_OIDC_CLIENT_SECRET", "APPLICANT_OIDC_SCOPES", "APPLICANT_OIDC_TIMEOUT",
        *CLAIM_SETTINGS.values()))
    with _PROVIDERS_LOCK:
        found = _PROVIDERS.get(key)
        if found is None:
            found = _PROVIDERS[key] = Provider(config)
        return found
