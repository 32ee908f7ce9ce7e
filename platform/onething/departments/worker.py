"""The background work of `onething worker`: webhook delivery, deadline reminders, statistics.

Each reminder round also refreshes the statistics' daily summary (cases/summary.py),
so that a statistics page rarely finds days to summarise again itself, and summarises
every day again when no refresh has done so for a day (the time is kept in the database,
so restarted or several workers do it once a day): the backstop for a change committed
later than the refresh's look-back (summary.LAG) after it was stamped.

Any number of workers may run beside each other and beside `onething serve`: deliveries
are claimed per endpoint (webhooks.Deliverer) and reminders are written once per task
(deadlines). A worker stops when its stop event is set (SIGTERM or SIGINT): it finishes
the attempts under way, within the attempt timeout, and releases its claims.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

from sqlalchemy import Engine
from sqlmodel import Session

from onething.cases import summary
from onething.departments.deadlines import remind_deadlines
from onething.departments.webhooks import Deliverer

LOG = logging.getLogger("onething.worker")
# How often the workers summarise every day again.
FULL_SUMMARY_EVERY = dt.timedelta(days=1)


def run_worker(engine: Engine, stop: threading.Event, *, interval: float,
               reminder_interval: float, threads: int, timeout: float,
               once: bool = False) -> int:
    """Deliver webhooks and write reminders until `stop` is set (or one round of each with
    `once`); return how many events were delivered in a round of `once`, else 0."""
    deliverer = Deliverer(engine, threads=threads, timeout=timeout)
    if once:
        _remind(engine)
        _summarise(engine)
        return deliverer.run_round()
    delivery = threading.Thread(target=deliverer.run, args=(stop, interval),
                                name="webhook-deliverer")
    delivery.start()
    try:
        while not stop.is_set():
            _remind(engine)
            _summarise(engine)
            stop.wait(reminder_interval)
    finally:
        stop.set()
        delivery.join()
    return 0


def _remind(engine: Engine) -> None:
    try:
        with Session(engine) as session:
            written = remind_deadlines(session)
        if written:
            LOG.info("wrote %d deadline reminders", written)
    except Exception:  # a bad look must not end the worker; the next one tries again
        LOG.exception("deadline reminders failed")


def _summarise(engine: Engine) -> None:
    try:
        summary.refresh(engine, full_every=FULL_SUMMARY_EVERY)
    except Exception:  # as a reminder round: the next round, or the next read, tries again
        LOG.exception("refreshing the statistics' summary failed")
