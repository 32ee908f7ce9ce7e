"""Webhooks: events for departments' systems, from a transactional outbox, signed, retried.

An event is written to the outbox in the same transaction as what it reports
(a submission routed, a task's status changed), so an event is never sent for
something that did not happen, and never lost for something that did.

Deliverers (`onething serve`'s thread, any number of `onething worker`s, `onething
webhook deliver`) take turns per endpoint: a deliverer claims a department's webhook
row with a lease (`SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL; on SQLite the same
conditional UPDATE, atomic under its one writer), posts that department's due events
one after another, and releases it. So no two deliverers ever send one delivery id at
the same time, one department's events stay in order, and a deliverer that dies holds
its endpoint no longer than the lease. Each attempt, from connecting to the answer's
headers, ends by a deadline (the timeout) far inside the lease, however slowly the
system answers, so a lease never runs out under an attempt. Endpoints are served in
parallel by a small thread pool, so a slow or dead endpoint costs only its own
department time.

Each post is signed the Standard Webhooks way (`webhook-id`, `webhook-timestamp`,
`webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`) with the
department's `whsec_` secret. A 2xx marks it delivered; anything else schedules another
try with exponential backoff (up to 15 minutes apart) for 3 days, after which it is
marked failed, with its last error, for an administrator to redeliver.

Events carry no personal data: the ids of the task and the submission, the
matter and the status; `task.corrected` adds the corrected field paths (`fields`)
and the materials handed in again (`materials`),
`task.case_refused` the refused matter (`refused_matter`). The system then fetches
the slice through the API.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import functools
import hashlib
import hmac
import http.client
import json
import logging
import os
import re
import secrets
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from sqlalchemy import Engine, func, or_, update
from sqlmodel import Session, col, select
from standardwebhooks import Webhook as StandardWebhook

from onething.storage.models import AuditEntry, OutboxEvent, Webhook, utc_now

MAX_BACKOFF = dt.timedelta(minutes=15)
GIVE_UP_AFTER = dt.timedelta(days=3)
TIMEOUT_SECONDS = 5
# Endpoints served at once by one deliverer.
THREADS = 4
# Events of one endpoint per turn; then it goes to the back of the line.
BATCH = 100
SECRET_PREFIX = "whsec_"
# Receivers refuse a timestamp further than this from their clock (the libraries' default).
TOLERANCE = dt.timedelta(minutes=5)

LOG = logging.getLogger("onething.webhooks")

Post = Callable[[str, bytes, dict[str, str]], int]


def _new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def set_webhook(session: Session, department: str, url: str,
                actor: str | None = None) -> str:
    """Point a department's events at a URL; return its new signing secret; commit.

    Audited (`webhook_set`, never the secret) when the `actor` is given: the command line
    gives who ran it."""
    secret = _new_secret()
    hook = session.exec(select(Webhook).where(Webhook.department_code == department)).first()
    before = {} if hook is None else {"url": shown_url(hook.url), "active": hook.active}
    if hook is None:
        hook = Webhook(department_code=department, url=url, secret=secret)
    else:
        # A new secret is a new agreement: only Standard Webhooks signatures from now on.
        hook.url, hook.secret, hook.active, hook.legacy_signature = url, secret, True, False
        _end_rest(session, department)
    session.add(hook)
    if actor is not None:
        session.add(AuditEntry(actor=actor, action="webhook_set",
                               subject=f"webhook:{department}", before=before,
                               after={"url": shown_url(url), "active": True,
                                      "secret": "rotated"}))
    session.commit()
    return secret


def url_problem(url: str) -> str | None:
    """Why an address cannot take a department's events, or None."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "the URL must be http(s)://HOST/…"
    if parts.username is not None or parts.password is not None:
        # Never sent (urllib takes "user:pass@host" for a host and a port), and shown in
        # every error: the signature authenticates a delivery; a token may go in the path.
        return ("the URL must not hold a user name or password: each delivery is signed "
                "(webhook-signature); put a receiver's token in the path or query instead")
    try:
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        return "the URL's port must be a number"
    return None


def scrubbed(text: str, url: str) -> str:
    """An error's text without the address's password, user name or query, which an
    exception may quote."""
    parts = urllib.parse.urlsplit(url)
    for secret in (parts.password, parts.username, parts.query):
        if secret:
            text = text.replace(secret, "…")
    return text


def shown_url(url: str) -> str:
    """An address as the audit log keeps it and the console shows it: without a password or
    a query, where a receiver's own token may travel."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path,
                                    "…" if parts.query else "", ""))


def find_webhook(session: Session, department: str) -> Webhook | None:
    """A department's webhook, if it has one."""
    return session.exec(select(Webhook).where(Webhook.department_code == department)).first()


def _end_rest(session: Session, department: str) -> None:
    # An endpoint resting after a failed attempt (Deliverer.serve) is tried at once again
    # when an administrator changes it or asks for a redelivery. In one statement, under
    # the condition: a deliverer claiming it meanwhile keeps its lease (a turn under way
    # sees the change itself, Deliverer._changed_since).
    session.execute(update(Webhook).where(Webhook.department_code == department,
                                          col(Webhook.claimed_by).is_(None))
                    .values(claimed_until=None).execution_options(synchronize_session=False))


def set_active(session: Session, hook: Webhook, active: bool, actor: str) -> bool:
    """Enable or disable a webhook, audited; commit. False when it already was so.

    A disabled webhook's events wait in the outbox (deliverers skip it) and go out, in
    order, once it is enabled again, unless their retry window passed meanwhile.
    """
    if hook.active == active:
        return False
    hook.active = active
    if active:
        _end_rest(session, hook.department_code)
    session.add(hook)
    session.add(AuditEntry(actor=actor, action="webhook_enable" if active else "webhook_disable",
                           subject=f"webhook:{hook.department_code}",
                           before={"url": shown_url(hook.url), "active": not active},
                           after={"url": shown_url(hook.url), "active": active}))
    session.commit()
    return True


def rotate_secret(session: Session, hook: Webhook, actor: str) -> str:
    """Give a webhook a new signing secret, audited (never the secret); commit; return it."""
    secret = _new_secret()
    before = {"legacy_signature": hook.legacy_signature}
    # A new secret is a new agreement: only Standard Webhooks signatures from now on.
    hook.secret, hook.legacy_signature = secret, False
    session.add(hook)
    session.add(AuditEntry(actor=actor, action="webhook_rotate",
                           subject=f"webhook:{hook.department_code}",
                           before=before, after={"secret": "rotated", "legacy_signature": False}))
    session.commit()
    return secret


def legacy_signature(secret: str, body: bytes) -> str:
    """The old X-OneThing-Signature: sha256= and the hex HMAC of the body, with the same key."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def signed_headers(hook: Webhook, event: OutboxEvent, body: bytes,
                   at: dt.datetime) -> dict[str, str]:
    """The headers of one attempt: Standard Webhooks' three, signed for this moment."""
    moment = dt.datetime.fromtimestamp(int(at.timestamp()), dt.UTC)
    headers = {
        "Content-Type": "application/json",
        "webhook-id": event.delivery_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": StandardWebhook(hook.secret).sign(
            event.delivery_id, moment, body.decode()),
        "X-OneThing-Event": event.event,
        "X-OneThing-Delivery": event.delivery_id,
    }
    if hook.legacy_signature:
        headers["X-OneThing-Signature"] = legacy_signature(hook.secret, body)
    return headers


def body_of(event: OutboxEvent) -> bytes:
    """What is posted for an event: the same bytes at every attempt."""
    return json.dumps({"event": event.event, "delivery_id": event.delivery_id,
                       "created_at": event.created_at.isoformat(), **event.payload},
                      ensure_ascii=False, sort_keys=True).encode()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not a delivery: urllib would follow a 302 to a POST with a
    body-less GET, and a 2xx there would mark an event delivered that nobody received."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        """Follow no redirect: the 3xx is returned as the attempt's status."""
        return None


class _Deadline:
    """The end of one whole attempt: at it, the attempt's socket is shut down, which wakes
    the connect, send or read under way. A socket timeout alone bounds each wait, so a
    system trickling its answer a byte at a time could hold an attempt past the lease."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.end = time.monotonic() + seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        _ATTEMPT.deadline = self
        self.end = time.monotonic() + self.seconds
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._timer.cancel()
        _ATTEMPT.deadline = None

    def watch(self, sock: socket.socket) -> None:
        """Shut this socket down at the deadline (at once if it passed already)."""
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                _shut(sock)

    def connect(self, address: tuple[str, int], timeout: float | None,
                source_address: tuple[str, int] | None = None) -> socket.socket:
        """Connect to the first of the host's addresses that answers, within the time left."""
        # socket.create_connection gives each address the whole timeout, and its socket is
        # watched only once connected: a host with many dead addresses outlasts the lease.
        # Here each socket is watched from its creation and waits only the time left. The
        # name is resolved once, bounded by the resolver's own timeouts.
        host, port = address
        failure: OSError | None = None
        for family, kind, proto, _, sockaddr in socket.getaddrinfo(
                host, port, 0, socket.SOCK_STREAM):
            left = self.end - time.monotonic()
            if self.expired or left <= 0:
                break
            sock = socket.socket(family, kind, proto)
            self.watch(sock)
            try:
                sock.settimeout(left if timeout is None else min(left, timeout))
                if source_address:
                    sock.bind(source_address)
                sock.connect(sockaddr)
            except OSError as error:
                sock.close()
                failure = error
                continue
            # Each later wait gets the connection's timeout; the deadline bounds them all.
            sock.settimeout(timeout)
            return sock
        if self.expired or self.end <= time.monotonic():
            # Time is up though the timer may not have fired yet: the attempt has expired.
            self._expire()
            raise TimeoutError(f"no connection within the attempt's {self.seconds:g} s")
        raise failure or OSError(f"getaddrinfo returned no address for {host}")

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    # A socket closed meanwhile (the attempt ended) raises here: nothing left to stop.
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


# The attempt under way in this thread: its connections register their sockets with it.
_ATTEMPT = threading.local()


def _watched(address, timeout=socket._GLOBAL_DEFAULT_TIMEOUT,
             source_address=None) -> socket.socket:
    deadline = getattr(_ATTEMPT, "deadline", None)
    if deadline is None:
        return socket.create_connection(address, timeout, source_address)
    if timeout is socket._GLOBAL_DEFAULT_TIMEOUT:
        timeout = socket.getdefaulttimeout()
    return deadline.connect(address, timeout, source_address)


class _HTTPConnection(http.client.HTTPConnection):
    """A connection whose socket the attempt's deadline can shut down."""

    def connect(self):
        """Connect, the socket watched from its creation."""
        self._create_connection = _watched
        super().connect()


class _HTTPSConnection(http.client.HTTPSConnection):
    """A TLS connection whose socket the deadline can shut down, the handshake included."""

    def connect(self):
        """Connect, then shake hands on a socket the deadline watches already."""
        self._create_connection = _watched
        http.client.HTTPConnection.connect(self)
        self.sock = self._context.wrap_socket(
            self.sock, server_hostname=self._tunnel_host or self.host,
            do_handshake_on_connect=False)
        _ATTEMPT.deadline.watch(self.sock)
        self.sock.do_handshake()


class _HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_HTTPConnection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(_HTTPSConnection, req, context=self._context)


_OPENER = urllib.request.build_opener(_NoRedirect, _HTTPHandler, _HTTPSHandler)


def _post(url: str, body: bytes, headers: dict[str, str],
          timeout: float = TIMEOUT_SECONDS) -> int:
    """Post once; the whole attempt (connect, send, the answer's status and headers) ends
    within `timeout` seconds, or it fails with TimeoutError."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    with _Deadline(timeout) as deadline:
        try:
            with _OPENER.open(request, timeout=timeout) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            error.close()
            status = error.code
        except (OSError, http.client.HTTPException) as failure:
            if deadline.expired:
                raise TimeoutError(f"no answer within the attempt's {timeout:g} s") from None
            if isinstance(failure, OSError):
                raise
            raise ConnectionError(f"{type(failure).__name__}: {failure}") from None
    # The body of the answer is never read: the status is the answer.
    return status


def backoff(attempts: int) -> dt.timedelta:
    """How long to wait after a failed attempt: 10 s, 20 s, 40 s, … up to 15 minutes."""
    return min(dt.timedelta(seconds=10 * 2 ** (attempts - 1)), MAX_BACKOFF)


def _pending():
    return col(OutboxEvent.delivered_at).is_(None), col(OutboxEvent.failed_at).is_(None)


def _window_start():
    return func.coalesce(OutboxEvent.redelivered_at, OutboxEvent.created_at)


def give_up_expired(session: Session, now: dt.datetime | None = None) -> int:
    """Mark failed every pending event past its retry window, whatever its hook; commit."""
    now = now or utc_now()
    # SKIP LOCKED: a row a deliverer is recording right now is left for the next sweep, and
    # two sweeps never wait on each other's rows (nor deadlock).
    expired = select(OutboxEvent.id).where(
        *_pending(), _window_start() < now - GIVE_UP_AFTER).with_for_update(skip_locked=True)
    result = session.execute(
        update(OutboxEvent).where(col(OutboxEvent.id).in_(expired.scalar_subquery()))
        .values(failed_at=now, last_error=func.coalesce(
            OutboxEvent.last_error, "no attempt succeeded within the retry window"))
        .execution_options(synchronize_session=False))
    session.commit()
    return result.rowcount


class Deliverer:
    """Delivers due events: claims endpoints, serves each in a pool thread, releases them."""

    def __init__(self, engine: Engine, *, threads: int = THREADS,
                 timeout: float = TIMEOUT_SECONDS, post: Post | None = None,
                 clock: Callable[[], dt.datetime] = utc_now, name: str | None = None):
        self.engine = engine
        self.threads = max(1, threads)
        self.post = post or functools.partial(_post, timeout=timeout)
        self.clock = clock
        # Far longer than one attempt, which is all a deliverer does between two renewals.
        self.lease = dt.timedelta(seconds=max(60.0, 6 * timeout))
        self.name = name or f"{socket.gethostname()[:30]}:{os.getpid()}:{secrets.token_hex(4)}"

    # --- claims -------------------------------------------------------------------------

    def claim(self, limit: int, exclude: Iterable[int] = ()) -> list[int]:
        """Claim up to `limit` active endpoints with due events; return their webhook ids."""
        if limit <= 0:
            return []
        now = self.clock()
        free = or_(col(Webhook.claimed_until).is_(None), col(Webhook.claimed_until) <= now)
        due = select(OutboxEvent.id).where(
            OutboxEvent.department_code == Webhook.department_code, *_pending(),
            col(OutboxEvent.next_attempt_at) <= now).exists()
        # Least recently served first (a release stamps claimed_until), so no endpoint starves.
        candidates = (select(Webhook.id)
                      .where(col(Webhook.active).is_(True), free, due,
                             col(Webhook.id).not_in(list(exclude)))
                      .order_by(col(Webhook.claimed_until).asc().nulls_first(), col(Webhook.id))
                      .limit(limit).with_for_update(skip_locked=True, of=Webhook))
        with Session(self.engine) as session:
            # One statement: on PostgreSQL the rows another deliverer is claiming are
            # skipped, not waited for; on SQLite it runs whole under the write lock. The
            # lease condition again in the UPDATE: a row claimed meanwhile stays theirs.
            claimed = session.execute(
                update(Webhook).where(col(Webhook.id).in_(candidates.scalar_subquery()), free)
                .values(claimed_by=self.name, claimed_until=now + self.lease)
                .returning(Webhook.id).execution_options(synchronize_session=False)
            ).scalars().all()
            session.commit()
        return sorted(claimed)

    def _renew(self, session: Session, hook_id: int) -> bool:
        """Extend our lease before an attempt; False if the endpoint is no longer ours."""
        result = session.execute(
            update(Webhook).where(Webhook.id == hook_id, Webhook.claimed_by == self.name)
            .values(claimed_until=self.clock() + self.lease)
            .execution_options(synchronize_session=False))
        session.commit()
        return result.rowcount == 1

    def release(self, hook_ids: Iterable[int] | None = None,
                rest_until: dt.datetime | None = None) -> None:
        """Give back our claims (all of them when no ids are given); `rest_until`: no
        deliverer claims them before then."""
        statement = update(Webhook).where(Webhook.claimed_by == self.name)
        if hook_ids is not None:
            statement = statement.where(col(Webhook.id).in_(list(hook_ids)))
        with Session(self.engine) as session:
            session.execute(statement.values(claimed_by=None,
                                             claimed_until=rest_until or self.clock())
                            .execution_options(synchronize_session=False))
            session.commit()

    # --- one endpoint's turn ----------------------------------------------------------------

    def serve(self, hook_id: int, stop: threading.Event | None = None) -> int:
        """Post a claimed endpoint's due events in order, then release it; return how many
        were delivered.

        A failed attempt ends the turn. When it says the system is down (no answer, a
        5xx, 429) the endpoint rests until that event's next attempt: a system that is
        down is sent one event per step of the backoff (the oldest due, the others
        waiting behind it), not every due event back to back, and one that hangs holds a
        thread once per step, not once per event. An event the system refuses (another
        4xx, a redirect) holds up no other: the next turn sends the rest. A rest is not
        taken when an administrator changed the hook or redelivered during the turn.
        """
        delivered = 0
        rest_until = None
        started = self.clock()
        try:
            with Session(self.engine, expire_on_commit=False) as session:
                hook = session.get(Webhook, hook_id)
                now = started
                due = session.exec(select(OutboxEvent.id).where(
                    OutboxEvent.department_code == hook.department_code, *_pending(),
                    col(OutboxEvent.next_attempt_at) <= now,
                    _window_start() >= now - GIVE_UP_AFTER,
                ).order_by(col(OutboxEvent.id)).limit(BATCH)).all()
                session.commit()
                for event_id in due:
                    if stop is not None and stop.is_set():
                        break
                    if not self._renew(session, hook_id):
                        LOG.warning("lost the claim of %s's webhook", hook.department_code)
                        return delivered
                    event = session.get(OutboxEvent, event_id, populate_existing=True)
                    # Nothing held open while posting: no lock, no idle transaction.
                    session.commit()
                    if (event is None or event.delivered_at is not None
                            or event.failed_at is not None):
                        continue
                    outcome = self._attempt(session, hook, event)
                    if outcome == "down":
                        if not self._changed_since(session, hook, started):
                            rest_until = event.next_attempt_at
                        break
                    if outcome == "refused":
                        break
                    delivered += 1
        finally:
            self.release([hook_id], rest_until)
        return delivered

    def _changed_since(self, session: Session, hook: Webhook, started: dt.datetime) -> bool:
        """Whether an administrator set the hook's address or secret, or redelivered its
        events, since the turn began: what they did is tried at once, not after a rest."""
        current = session.execute(select(Webhook.url, Webhook.secret).where(
            Webhook.id == hook.id)).one_or_none()
        redelivered = session.exec(select(OutboxEvent.id).where(
            OutboxEvent.department_code == hook.department_code,
            col(OutboxEvent.redelivered_at) >= started).limit(1)).first()
        session.commit()
        return current != (hook.url, hook.secret) or redelivered is not None

    def _attempt(self, session: Session, hook: Webhook, event: OutboxEvent) -> str:
        """Post one event and record the outcome: "delivered", "down" (no answer, a 5xx,
        429: the system is not taking events) or "refused" (this event, answered)."""
        body = body_of(event)
        try:
            status = self.post(hook.url, body, signed_headers(hook, event, body, self.clock()))
            error = None if 200 <= status < 300 else f"HTTP {status}"
            outcome = ("delivered" if error is None else
                       "down" if status >= 500 or status == 429 else "refused")
        except OSError as failure:  # refused, unreachable, timed out
            error = scrubbed(f"{type(failure).__name__}: {failure}", hook.url)[:500]
            outcome = "down"
        now = self.clock()
        event.attempts += 1
        if error is None:
            event.delivered_at = now
        else:
            event.last_error = error
            event.next_attempt_at = now + backoff(event.attempts)
            # In the worker's log too: an endpoint down is seen where operators look.
            LOG.warning("webhook %s: delivery %s (attempt %s) failed: %s; next at %s",
                        hook.department_code, event.delivery_id, event.attempts, error,
                        event.next_attempt_at.isoformat(timespec="seconds"))
        session.add(event)
        session.commit()
        return outcome

    # --- rounds -------------------------------------------------------------------------

    def run_round(self) -> int:
        """Give every endpoint with due events one turn; return how many were delivered."""
        return self._loop(threading.Event(), interval=None)

    def run(self, stop: threading.Event, interval: float) -> None:
        """Deliver until `stop` is set, looking for due events every `interval` seconds;
        then finish the attempts under way and release every claim."""
        self._loop(stop, interval)

    def _loop(self, stop: threading.Event, interval: float | None) -> int:
        once = interval is None
        served: set[int] = set()
        running: dict[Future, int] = {}
        delivered = 0
        next_sweep = 0.0
        with ThreadPoolExecutor(self.threads, thread_name_prefix="webhook") as pool:
            try:
                while not stop.is_set():
                    try:
                        if time.monotonic() >= next_sweep:
                            give_up_expired_with(self.engine, self.clock())
                            next_sweep = float("inf") if once else time.monotonic() + interval
                        claimed = self.claim(self.threads - len(running),
                                             exclude=served | set(running.values()))
                    except Exception:  # a database hiccup must not end the deliverer
                        if once:
                            raise
                        LOG.exception("claiming webhook endpoints failed")
                        claimed = []
                    for hook_id in claimed:
                        running[pool.submit(self.serve, hook_id, stop)] = hook_id
                        if once:
                            served.add(hook_id)
                    if not running:
                        if once:
                            break
                        stop.wait(interval)
                        continue
                    # A finished turn frees a thread at once; else look again after interval.
                    done, _ = wait(list(running), timeout=interval, return_when=FIRST_COMPLETED)
                    for future in done:
                        delivered += self._outcome(future, running.pop(future))
            finally:
                for future, hook_id in running.items():
                    delivered += self._outcome(future, hook_id)
                self.release()
        return delivered

    @staticmethod
    def _outcome(future: Future, hook_id: int) -> int:
        try:
            return future.result()
        except Exception:  # one endpoint's bad turn must not end the others'
            LOG.exception("delivering to webhook %s failed", hook_id)
            return 0


def give_up_expired_with(engine: Engine, now: dt.datetime) -> int:
    """give_up_expired in a session of its own."""
    with Session(engine) as session:
        return give_up_expired(session, now)


def deliver_due(session: Session, now: dt.datetime | None = None,
                post: Post | None = None, threads: int = THREADS,
                timeout: float = TIMEOUT_SECONDS) -> int:
    """One round on the session's database: every endpoint with due events gets one turn
    (`now` fixes the clock, for tests); return how many events were delivered."""
    clock = (lambda: now) if now is not None else utc_now
    # The round works in sessions of its own: what this one wrote must be committed first,
    # and what it had loaded is stale after.
    session.commit()
    delivered = Deliverer(session.get_bind(), threads=threads, timeout=timeout, post=post,
                          clock=clock).run_round()
    session.expire_all()
    return delivered


def start_deliverer(engine: Engine, interval: float, *, threads: int = THREADS,
                    timeout: float = TIMEOUT_SECONDS) -> Callable[[], None]:
    """Deliver due events every `interval` seconds in a daemon thread; return a stopper."""
    stop = threading.Event()
    deliverer = Deliverer(engine, threads=threads, timeout=timeout)
    threading.Thread(target=deliverer.run, args=(stop, interval), name="webhook-deliverer",
                     daemon=True).start()
    return stop.set


# --- failed deliveries: what administrators see and redeliver -------------------------------


def failed_events(session: Session, department: str):
    """A statement of a department's failed deliveries, newest first."""
    return (select(OutboxEvent).where(OutboxEvent.department_code == department,
                                      col(OutboxEvent.failed_at).is_not(None))
            .order_by(col(OutboxEvent.id).desc()))


def redeliver(session: Session, department: str, actor: str,
              delivery_ids: Iterable[str] | None = None) -> int:
    """Schedule a department's failed deliveries again (all, or those named), each with its
    own delivery id and a new retry window; record who did it; commit. Return how many."""
    now = utc_now()
    statement = update(OutboxEvent).where(OutboxEvent.department_code == department,
                                          col(OutboxEvent.failed_at).is_not(None))
    if delivery_ids is not None:
        statement = statement.where(col(OutboxEvent.delivery_id).in_(list(delivery_ids)))
    result = session.execute(statement.values(
        failed_at=None, attempts=0, next_attempt_at=now, redelivered_at=now)
        .execution_options(synchronize_session=False))
    if result.rowcount:
        _end_rest(session, department)
        session.add(AuditEntry(actor=actor, action="webhook_redeliver",
                               subject=f"webhook:{department}",
                               after={"redelivered": result.rowcount,
                                      "delivery_ids": None if delivery_ids is None
                                      else sorted(delivery_ids)}))
    session.commit()
    return result.rowcount


def webhook_overview(session: Session) -> list[dict]:
    """Each department's webhook with how many events are pending, how many of those an
    attempt failed already (retrying) and since when the oldest waits, and how many failed.

    An endpoint that is down shows here as retrying within minutes, not as failed 3 days
    later."""
    pending = {code: (count, retrying, oldest) for code, count, retrying, oldest in
               session.exec(select(OutboxEvent.department_code, func.count(),
                                   func.count().filter(col(OutboxEvent.attempts) > 0),
                                   func.min(OutboxEvent.created_at))
                            .where(*_pending()).group_by(OutboxEvent.department_code)).all()}
    failed = dict(session.exec(select(OutboxEvent.department_code, func.count()).where(
        col(OutboxEvent.failed_at).is_not(None)).group_by(OutboxEvent.department_code)).all())
    hooks = session.exec(select(Webhook).order_by(col(Webhook.department_code))).all()
    rows = []
    for hook in hooks:
        count, retrying, oldest = pending.get(hook.department_code, (0, 0, None))
        rows.append({"hook": hook, "pending": count, "retrying": retrying,
                     "oldest": oldest,
                     "failed": failed.get(hook.department_code, 0)})
    return rows


def retrying_events(session: Session, department: str, limit: int = 20) -> list[OutboxEvent]:
    """A department's pending deliveries an attempt failed already, oldest first: what an
    administrator reads to see that, and why, an endpoint does not answer."""
    return list(session.exec(select(OutboxEvent).where(
        OutboxEvent.department_code == department, *_pending(),
        col(OutboxEvent.attempts) > 0).order_by(col(OutboxEvent.id)).limit(limit)).all())


# An attempt's error as stored (the exception, or the HTTP status), by what it means.
_ERRORS = (
    (re.compile(r"refused", re.I), "refused"),
    (re.compile(r"timed? ?out|TimeoutError", re.I), "timeout"),
    (re.compile(r"Name or service not known|getaddrinfo|gaierror|nodename", re.I), "no_host"),
    (re.compile(r"CERTIFICATE|SSL", re.I), "tls"),
    (re.compile(r"unreachable|No route", re.I), "unreachable"),
    (re.compile(r"reset by peer|RemoteDisconnected|closed connection", re.I), "dropped"),
    (re.compile(r"^no attempt succeeded"), "window"),
)


def error_kind(error: str | None) -> tuple[str, int | None] | None:
    """What a stored error means: (kind, HTTP status or None); None when unknown."""
    if not error:
        return None
    status = re.fullmatch(r"HTTP (\d{3})", error)
    if status:
        return "http", int(status[1])
    for pattern, kind in _ERRORS:
        if pattern.search(error):
            return kind, None
    return None
