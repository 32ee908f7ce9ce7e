"""Webhooks: events for departments' systems, from a transactional outbox, signed, retried.

An event is written to the outbox in the same transaction as what it reports
(a submission routed, a task's status changed), so an event is never sent for
something that did not happen, and never lost for something that did. A
deliverer posts due events, each with its delivery id, its event type and an
HMAC-SHA256 signature of the body with the department's secret; a 2xx marks it
delivered, anything else schedules another try with exponential backoff (up to
15 minutes apart, for 3 days), so a system down for an hour receives
everything when it is back, each delivery id once per success.

Events carry no personal data: the ids of the task and the submission, the
matter and the status. The system then fetches the slice through the API.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
import urllib.error
import urllib.request
from collections.abc import Callable

from sqlmodel import Session, col, select

from onething.storage.models import OutboxEvent, Webhook, utc_now

MAX_BACKOFF = dt.timedelta(minutes=15)
GIVE_UP_AFTER = dt.timedelta(days=3)
TIMEOUT_SECONDS = 5


def set_webhook(session: Session, department: str, url: str) -> str:
    """Point a department's events at a URL; return its new signing secret; commit."""
    secret = secrets.token_urlsafe(32)
    hook = session.exec(select(Webhook).where(Webhook.department_code == department)).first()
    if hook is None:
        hook = Webhook(department_code=department, url=url, secret=secret)
    else:
        hook.url, hook.secret, hook.active = url, secret, True
    session.add(hook)
    session.commit()
    return secret


def signature(secret: str, body: bytes) -> str:
    """The X-OneThing-Signature header: sha256= and the hex HMAC of the body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def backoff(attempts: int) -> dt.timedelta:
    """How long to wait after a failed attempt: 10 s, 20 s, 40 s, … up to 15 minutes."""
    return min(dt.timedelta(seconds=10 * 2 ** (attempts - 1)), MAX_BACKOFF)


def deliver_due(session: Session, now: dt.datetime | None = None, limit: int = 100,
                post: Callable[[str, bytes, dict], int] = _post) -> int:
    """Try every due event once; return how many were delivered. Commits each attempt."""
    now = now or utc_now()
    hooks = {h.department_code: h for h in session.exec(
        select(Webhook).where(col(Webhook.active).is_(True))).all()}
    due = session.exec(select(OutboxEvent).where(
        col(OutboxEvent.delivered_at).is_(None), col(OutboxEvent.next_attempt_at) <= now,
        col(OutboxEvent.created_at) > now - GIVE_UP_AFTER,
    ).order_by(col(OutboxEvent.id)).limit(limit)).all()
    delivered = 0
    for event in due:
        hook = hooks.get(event.department_code)
        if hook is None:
            continue
        body = json.dumps({"event": event.event, "delivery_id": event.delivery_id,
                           "created_at": event.created_at.isoformat(), **event.payload},
                          ensure_ascii=False, sort_keys=True).encode()
        headers = {"Content-Type": "application/json", "X-OneThing-Event": event.event,
                   "X-OneThing-Delivery": event.delivery_id,
                   "X-OneThing-Signature": signature(hook.secret, body)}
        event.attempts += 1
        try:
            status = post(hook.url, body, headers)
            error = None if 200 <= status < 300 else f"HTTP {status}"
        except OSError as failure:  # refused, unreachable, timed out
            error = f"{type(failure).__name__}: {failure}"[:500]
        if error is None:
            event.delivered_at = now
            delivered += 1
        else:
            event.last_error = error
            event.next_attempt_at = now + backoff(event.attempts)
        session.add(event)
        session.commit()
    return delivered


def start_deliverer(engine, interval: float) -> Callable[[], None]:
    """Deliver due events every `interval` seconds in a daemon thread; return a stopper."""
    import logging
    import threading

    stop = threading.Event()

    def run():
        while not stop.wait(interval):
            try:
                with Session(engine) as session:
                    deliver_due(session)
            except Exception:  # a bad round must not end the deliverer
                logging.getLogger("onething.webhooks").exception("delivery round failed")

    threading.Thread(target=run, name="webhook-deliverer", daemon=True).start()
    return stop.set
