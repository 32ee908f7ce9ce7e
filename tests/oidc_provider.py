"""A small OpenID Connect provider for tests: authlib's Flask authorization server, served
from a thread on a live port, signing id_tokens with a key generated for the run.

It stands in for a province's identity platform (统一身份认证): the authorization code flow
with PKCE required and a nonce required. Whoever reaches /authorize is signed in at once
as `provider.person` (no login form: the tests play the person). `provider.misbehave`
makes it answer wrongly: "nonce" (an id_token for another nonce), "key" (signed with a
key it never published), "issuer" (metadata naming another issuer).
"""

from __future__ import annotations

import os
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass, field

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from flask import Flask, jsonify, request
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server

# authlib refuses plain http unless told: the provider listens on 127.0.0.1 only.
os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")

CLIENT_ID = "onething-hall"
CLIENT_SECRET = "s3cret-" + "x" * 20
PERSON = {"sub": "person-0001", "name": "张三", "id_card_number": "110101199003071233",
          "phone_number": "13800138000"}


class Client:
    """The hall, as the provider registered it."""

    def __init__(self, redirect_uris: list[str] | None = None):
        self.redirect_uris = redirect_uris

    def get_client_id(self):
        return CLIENT_ID

    def get_default_redirect_uri(self):
        return None

    def get_allowed_scope(self, scope):
        return " ".join(s for s in scope.split() if s in {"openid", "profile", "phone"})

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri.endswith("/applicant/callback")

    def check_client_secret(self, client_secret):
        return secrets.compare_digest(client_secret, CLIENT_SECRET)

    def check_endpoint_auth_method(self, method, endpoint):
        return method == "client_secret_basic"

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type == "authorization_code"


@dataclass
class Code:
    code: str
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    person: dict
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope

    def get_nonce(self):
        return self.nonce

    def get_auth_time(self):
        return self.auth_time

    def get_acr(self):
        return None

    def get_amr(self):
        return None

    def is_expired(self):
        return time.time() - self.auth_time > 300


class Provider:
    """The provider's state: its key, codes, tokens, the person and how it misbehaves."""

    def __init__(self):
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-1"})
        self.stranger = RSAKey.generate_key(2048, parameters={"kid": "test-1"})
        self.codes: dict[str, Code] = {}
        self.tokens: dict[str, dict] = {}
        self.person = dict(PERSON)
        self.misbehave: str | None = None
        self.requests: list[str] = []
        self.url = ""


def create_provider_app(provider: Provider) -> Flask:
    app = Flask("oidc_provider")
    app.config["SECRET_KEY"] = "provider"

    class CodeGrant(grants.AuthorizationCodeGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = ("client_secret_basic",)

        def save_authorization_code(self, code, req):
            payload = req.payload.data
            provider.codes[code] = Code(
                code, req.payload.redirect_uri, req.scope, payload.get("nonce"),
                payload.get("code_challenge"), payload.get("code_challenge_method"),
                dict(req.user))

        def query_authorization_code(self, code, client):
            found = provider.codes.get(code)
            return found if found is not None and not found.is_expired() else None

        def delete_authorization_code(self, authorization_code):
            provider.codes.pop(authorization_code.code, None)

        def authenticate_user(self, authorization_code):
            return authorization_code.person

    class IDToken(OpenIDCode):
        def resolve_client_private_key(self, client):
            return provider.stranger if provider.misbehave == "key" else provider.key

        def get_client_algorithm(self, client):
            return "RS256"

        def get_encode_header(self, client):
            return {"alg": "RS256", "kid": "test-1"}

        def get_client_claims(self, client):
            return {"iss": provider.url, "aud": [CLIENT_ID]}

        def get_authorization_code_claims(self, authorization_code):
            claims = super().get_authorization_code_claims(authorization_code)
            if provider.misbehave == "nonce":
                claims["nonce"] = "not-the-nonce-you-sent"
            return claims

        def exists_nonce(self, nonce, req):
            return False

        def generate_user_info(self, user, scope):
            return UserInfo(sub=user["sub"], name=user["name"])

    def save_token(token, req):
        provider.tokens[token["access_token"]] = dict(req.user)

    server = AuthorizationServer(app, query_client=lambda client_id: (
        Client() if client_id == CLIENT_ID else None), save_token=save_token)
    server.register_grant(CodeGrant, [CodeChallenge(required=True),
                                      IDToken(require_nonce=True)])

    @app.before_request
    def log():
        provider.requests.append(request.path)

    @app.get("/.well-known/openid-configuration")
    def metadata():
        return jsonify({
            "issuer": "https://elsewhere.example" if provider.misbehave == "issuer"
            else provider.url,
            "authorization_endpoint": f"{provider.url}/authorize",
            "token_endpoint": f"{provider.url}/token",
            "userinfo_endpoint": f"{provider.url}/userinfo",
            "jwks_uri": f"{provider.url}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
        })

    @app.get("/jwks")
    def jwks():
        return jsonify({"keys": [provider.key.as_dict(private=False)]})

    @app.get("/authorize")
    def authorize():
        # The person signs in at once: the tests play them.
        person = dict(provider.person)
        try:
            grant = server.get_consent_grant(end_user=person)
        except OAuth2Error as error:
            return jsonify({"error": error.error}), 400
        return server.create_authorization_response(grant=grant, grant_user=person)

    @app.post("/token")
    def token():
        return server.create_token_response()

    @app.get("/userinfo")
    def userinfo():
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        person = provider.tokens.get(bearer)
        if person is None:
            return jsonify({"error": "invalid_token"}), 401
        return jsonify(person)

    return app


class Running:
    """A provider served from a thread; stop() ends it."""

    def __init__(self):
        self.provider = Provider()
        self.server = make_server("127.0.0.1", 0, create_provider_app(self.provider),
                                  threaded=True)
        self.provider.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="oidc",
                                       daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return self.provider.url

    def config(self) -> dict:
        """The hall's settings for this provider."""
        return {"APPLICANT_OIDC_ISSUER": self.url, "APPLICANT_OIDC_CLIENT_ID": CLIENT_ID,
                "APPLICANT_OIDC_CLIENT_SECRET": CLIENT_SECRET,
                "APPLICANT_OIDC_SCOPES": "openid profile phone"}

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def follow_authorization(url: str) -> str:
    """Visit the provider's authorization URL as the browser would; the callback it sends to."""
    import urllib.request

    class Stop(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(Stop)
    try:
        opener.open(url, timeout=10)
    except urllib.error.HTTPError as answer:
        if answer.code in (302, 303):
            return answer.headers["Location"]
        raise
    raise AssertionError("the provider did not redirect back")


def callback_path(location: str) -> str:
    """The callback's path and query, to request through a test client."""
    parts = urllib.parse.urlsplit(location)
    return f"{parts.path}?{parts.query}"
