"""The signed session cookie: what a browser keeps between requests (tokens, sign-in, language).

Flask's own cookie session, with two changes for speed. Its values are plain
JSON (strings, numbers, lists, dicts) written by orjson, instead of Flask's
tagged JSON, which walks every value looking for tuples, bytes and dates the
session never holds. And the signing serializer is built once per secret
key, not twice per request.

A static file's answer never sets the cookie: a shared cache would not keep a
stylesheet sent with someone's session, and a late image's answer would put
back a cookie the browser had just been told to forget.
"""

from __future__ import annotations

import orjson
from flask import request
from flask.sessions import SecureCookieSessionInterface

# The endpoints that answer with a file (the icon browsers ask for at the root too).
_FILES = {"static", "favicon"}


class PlainJSON:
    """JSON text for session values, as itsdangerous expects a serializer to be."""

    @staticmethod
    def dumps(value) -> str:
        """The value as compact JSON text."""
        return orjson.dumps(value).decode()

    @staticmethod
    def loads(text):
        """The value of JSON text (bytes or str)."""
        return orjson.loads(text)


class SessionCookie(SecureCookieSessionInterface):
    """Flask's signed cookie session, serialized as plain JSON, its signer built once."""

    serializer = PlainJSON()

    def __init__(self):
        self._signers: dict = {}

    def get_signing_serializer(self, app):
        """The serializer for the app's current keys, built on first use."""
        key = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        signer = self._signers.get(key)
        if signer is None:
            signer = self._signers[key] = super().get_signing_serializer(app)
        return signer

    def should_set_cookie(self, app, session) -> bool:
        """Flask's rule, except that a file's answer never refreshes the cookie."""
        if request.endpoint in _FILES and not session.modified:
            return False
        return super().should_set_cookie(app, session)
