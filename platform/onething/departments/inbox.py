"""A department's inbox: only its own tasks, each with only its slice of the submission.

Staff belong to one department. Everything here is looked up through that
department, so a task of another department is simply not found (404), in
lists, pages and file downloads alike; nothing says it exists.

The lead department (牵头部门) of a bundle, whose window accepts its cases (一窗受理),
also follows each case it leads: every task's department, status and due date, so it
can coordinate, but none of the fields or materials of the other departments' slices.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from dataclasses import dataclass

from flask import Blueprint, abort, g, render_template, request, send_file
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, bindparam, false, func, literal, or_, text, tuple_
from sqlmodel import col, select
from werkzeug.datastructures import MultiDict

from onething.accounts.service import current_account, staff_guard
from onething.cases import clock
from onething.cases.handover import produced_fields, read_values
from onething.cases.parties import credit_code
from onething.cases.uploads import slice_material, store_upload
from onething.cases.workflow import (
    CROCKFORD_ALPHABET,
    TRACKING_SUFFIX_LENGTH,
    submission_composition,
    typed_tracking_number,
)
from onething.catalog.workdays import add_working_days, china_today
from onething.publishing.versions import bundle_of, get_version
from onething.storage.db import paginate
from onething.storage.models import (
    MAX_ROW_ID,
    TASK_DONE,
    TASK_STATUSES,
    Account,
    BundleVersion,
    CatalogEntry,
    Draft,
    PermitRevocation,
    PublishedService,
    Submission,
    Task,
    tracking_tail,
)
from onething.web.extensions import get_session

bp = Blueprint("inbox", __name__, url_prefix="/inbox", template_folder="templates")

# A task due within this many working days is highlighted as soon due.
SOON_DAYS = 2
# Cases the lead department sees at a time.
CASES_PAGE_SIZE = 50
# Tasks the inbox shows at a time.
PAGE_SIZE = 50
# The inbox's orders: by due date, soonest first (the default), or newest first.
SORTS = ("due", "new")
# A task decided already is due no more: only these can be overdue or due soon.
OPEN_STATUSES = tuple(status for status in TASK_STATUSES if status not in TASK_DONE)
# The inbox's status filter beyond one status: the open tasks (未办结, its first view), or
# every task.
OPEN, ALL = "open", "all"
# A search shorter than a tracking number's "OT" and date would match most of a year.
SEARCH_MIN_LENGTH = 10
# A name searched for: one character would match most of the inbox.
NAME_MIN_LENGTH = 2
SEARCH_MAX_LENGTH = 64
SEARCH_TOO_LONG = _l("A search is at most 64 characters: a tracking number, a credit code "
                     "or part of the applicant's name.")
# A whole number's start, before the end typed: what the end is read after.
TAIL_READER = "OT00000000-"
LINK_PROBLEM = _l("Part of this address could not be read: the inbox shows its first page, "
                  "with the filters it could read.")
SEARCH_PROBLEM = _l("Enter a tracking number (at least OT and the date, such as OT20261201, or "
                    "its last 6 characters), a credit code, or at least 2 characters of a "
                    "name.")
# What a row of the inbox shows: no slice, no JSON.
_ROW = (Task.id, Task.matter_code, Task.bundle_code, Task.status, Task.due_date,
        Task.due_estimated, Task.party_name, Submission.tracking_number,
        Submission.submitted_at, Task.submission_id, Task.not_accepted,
        Task.paused_since)
# Every bundle a department has tasks of, one index seek each (a loose index scan): a plain
# DISTINCT reads each of its tasks.
_BUNDLES_OF = text("""
    WITH RECURSIVE codes(code) AS (
        SELECT MIN(bundle_code) FROM task WHERE department_code = :department
        UNION ALL
        SELECT (SELECT MIN(t.bundle_code) FROM task t
                WHERE t.department_code = :department AND t.bundle_code > codes.code)
        FROM codes WHERE codes.code IS NOT NULL
    )
    SELECT code FROM codes WHERE code IS NOT NULL""")
# Open, said twice, its values written in the SQL (not bound) so that planners can match
# them against indexes: as the partial indexes of open tasks say it (a page of them, in
# order, reads a few of their entries), and as the open statuses, which a count reads
# from the (department, status) index, over the open tasks' entries only.
_OPEN_TASK = and_(
    col(Task.status).not_in(bindparam("done", TASK_DONE, expanding=True, literal_execute=True)),
    col(Task.status).in_(bindparam("open", OPEN_STATUSES, expanding=True, literal_execute=True)))
# What the lead department sees of another department's task: never its slice.
_COORDINATION = (Task.id, Task.submission_id, Task.matter_code, Task.department_code,
                 Task.status, Task.waits_for, Task.due_date, Task.due_estimated,
                 Task.decided_at)


staff_guard(bp)


def _department() -> str:
    return current_account().department_code


def _matters_declaring(key: str):
    """The department's matter definitions that declare `key` (instant_approval, benefit):
    its own entries only (an index), never a city's 11,000 matters read and parsed."""
    return select(CatalogEntry).where(
        CatalogEntry.kind == "matter", CatalogEntry.department_code == _department(),
        col(CatalogEntry.text).contains(f'"{key}"')).order_by(col(CatalogEntry.code))


def staff_features() -> dict[str, bool]:
    """Which of the staff pages the signed-in department has anything on: the nav offers
    those (a fire brigade leads no case and approves nothing instantly)."""
    if "staff_features" not in g:
        session = get_session()
        department = _department()
        g.staff_features = {
            "lead": session.exec(select(Submission.id).where(
                Submission.lead_department == department).limit(1)).first() is not None,
            "instant": session.exec(_matters_declaring("instant_approval").with_only_columns(
                CatalogEntry.id).limit(1)).first() is not None,
            "benefits": session.exec(_matters_declaring("benefit").with_only_columns(
                CatalogEntry.id).limit(1)).first() is not None,
        }
    return g.staff_features


@bp.app_context_processor
def _staff_features():
    # A callable: only the staff nav calls it, so other pages run no query.
    return {"staff_features": staff_features}


def _own_task(task_id: int) -> Task:
    """A task of the signed-in person's department; any other is not found."""
    task = get_session().exec(select(Task).where(
        Task.id == task_id, Task.department_code == _department())).first()
    if task is None:
        abort(404, description="task")
    return task


@dataclass
class InboxQuery:
    """What the inbox is asked for: filters, order and where the page starts."""

    status: str = OPEN
    bundle: str = ""
    due: str = ""
    sort: str = "due"
    q: str = ""
    after: tuple | None = None
    before: tuple | None = None
    # What the address held that could not be read, left at its default: a parameter, or
    # a search longer than any tracking number, code or name (no input types one).
    misread: bool = False
    too_long: bool = False

    def link(self, **position) -> dict:
        """The URL parameters of this list at another position: filters kept, empty left out."""
        given = {"status": "" if self.status == OPEN else self.status,
                 "bundle": self.bundle, "due": self.due,
                 "sort": "" if self.sort == "due" else self.sort, "q": self.q, **position}
        return {key: value for key, value in given.items() if value}


def _inbox_query() -> InboxQuery:
    """What the address asks for, and whether any of it could not be read.

    A link a clerk follows (an old bookmark, a pasted address, one cut short) still opens
    the inbox: what cannot be read is left at its default, and the page says so.
    """
    args = request.args
    misread = False
    sort = args.get("sort") or "due"
    if sort not in SORTS:
        sort, misread = "due", True
    q = args.get("q", "").strip()
    too_long = len(q) > SEARCH_MAX_LENGTH
    if too_long:
        q = ""
    status = args.get("status") or OPEN
    if status not in (OPEN, ALL, *TASK_STATUSES):
        status, misread = OPEN, True
    due = args.get("due", "")
    if due not in ("", "overdue", "soon"):
        due, misread = "", True
    query = InboxQuery(status=status, bundle=args.get("bundle", "")[:100], due=due, sort=sort,
                       q=q, too_long=too_long)
    for name in ("after", "before"):
        if args.get(name):
            key = _parse_key(sort, args[name])
            if key is None:
                misread = True
            setattr(query, name, key)
    query.misread = misread
    return query


def _parse_key(sort: str, value: str) -> tuple | None:
    """A page link's position: (due date, id) by due date, (id,) newest first."""
    if sort == "new":
        return (int(value),) if re.fullmatch(r"\d{1,10}", value) and \
            int(value) <= MAX_ROW_ID else None
    match = re.fullmatch(r"(\d{4}-\d{2}-\d{2})\.(\d{1,10})", value)
    if match is None or int(match[2]) > MAX_ROW_ID:
        return None
    try:
        return dt.date.fromisoformat(match[1]), int(match[2])
    except ValueError:
        return None


def _key_text(sort: str, row) -> str:
    return str(row.id) if sort == "new" else f"{row.due_date.isoformat()}.{row.id}"


def search_number(typed: str) -> tuple[str, bool] | None:
    """The tracking number typed, normalized, and whether it is whole; None if no search.

    Read as typed on a phone or a Chinese keyboard (workflow.typed_tracking_number).
    """
    number = typed_tracking_number(typed)
    if len(number) < SEARCH_MIN_LENGTH or not re.fullmatch(r"OT\d{8}(-[0-9A-Z]{0,6})?", number):
        return None
    return number, len(number) == 17


# A whole tracking number anywhere in a text, as people type one (any case, a dash or a
# space or none before its six characters).
_WHOLE_NUMBER = re.compile(r"(?<![0-9A-Za-z])OT\s*\d{8}\s*[-\u2010-\u2015\u2212_]?\s*"
                           r"[0-9A-Za-z]{6}(?![0-9A-Za-z])", re.IGNORECASE)


def search_of(typed: str) -> tuple[str, object] | None:
    """What a search box's text looks for: a tracking number, a credit code or a name."""
    if not typed:
        return None
    found = search_number(typed)
    if found is None:
        # A whole number inside what was pasted: a label before it (受理编号：), a full
        # stop after it, or the whole row copied from a list or a message.
        inside = _WHOLE_NUMBER.search(unicodedata.normalize("NFKC", typed))
        found = search_number(inside.group(0)) if inside else None
    if found is not None:
        return "tracking_number", found
    code = credit_code(typed)
    if code is not None:
        return "credit_code", code
    name = " ".join(unicodedata.normalize("NFKC", typed).split())
    # "OT" and digits begin a number, and six digits are more likely a date's than an end.
    tail = None if re.match(r"OT|\d+$", name, re.IGNORECASE) else search_tail(name)
    if tail is not None:
        # A tracking number's last six characters, as read out on the phone. Letters only
        # could be a name too (one number in ten ends so): both are searched.
        return ("tail", tail) if re.search(r"\d", name) else ("name_or_tail", (name, tail))
    if re.match(r"(OT)?\d", name, re.IGNORECASE):
        return None  # a tracking number begun, too short or mistyped: no name starts so
    return ("name", name) if len(name) >= NAME_MIN_LENGTH else None


def search_tail(typed: str) -> str | None:
    """The last six characters of a tracking number as typed (lower case, a dash before
    them, O for 0, I or L for 1), read as printed; None if they cannot be one's."""
    # Read as the end of a whole number would be (workflow.typed_tracking_number).
    tail = typed_tracking_number(TAIL_READER + typed)[len(TAIL_READER):].removeprefix("-")
    if len(tail) == TRACKING_SUFFIX_LENGTH and set(tail) <= set(CROCKFORD_ALPHABET):
        return tail
    return None


def _next_prefix(prefix: str) -> str:
    """The least text of letters and digits after every text that starts with the prefix."""
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    head = prefix.rstrip("-")
    while head:
        *rest, last = head
        if last in digits and last != digits[-1]:
            return "".join(rest) + digits[digits.index(last) + 1]
        head = "".join(rest).rstrip("-")
    return "~"


def _filters(department: str, query: InboxQuery, today: dt.date, soon: dt.date,
             dialect: str, search: tuple[str, object] | None) -> list:
    """The WHERE clauses of the list, all on the task table (counts need no join); `search`
    is what `search_of` read in the query's text."""
    # A search starts from the submissions it names, not from the department's tasks: the
    # department's test is made one no index serves, for planners without statistics
    # (SQLite's, until ANALYZE) to see no other way in.
    by_number = search is not None and search[0] in ("tracking_number", "tail")
    filters = [(col(Task.department_code).concat("") if by_number else col(Task.department_code))
               == department]
    if not query.q:
        # A search looks through every task of the department, whatever the filters (a
        # caller asks after their case whatever became of it, and a filter left on must
        # not hide it); the filters stay in the form, for when the search is cleared.
        filters += _filter_clauses(query, today, soon)
    found = search[1] if search is not None and search[0] == "tracking_number" else None
    if search is None:
        if query.q:
            filters.append(false())  # nothing a search can be made of: nothing matches
    elif search[0] == "credit_code":
        filters.append(Task.party_code == search[1])
    elif search[0] == "name":
        filters.append(name_matches(search[1], dialect))
    elif search[0] == "tail":
        filters.append(_ending_in(search[1]))
    elif search[0] == "name_or_tail":
        name, tail = search[1]
        filters.append(or_(name_matches(name, dialect), _ending_in(tail)))
    elif found is not None:
        number, whole = found
        tracking = col(Submission.tracking_number)
        if whole:
            matches = tracking == number
        else:
            # A range on the unique index, exact by LIKE. Its bounds are letters and digits
            # only: collations other than "C" ignore the dash, and "~" too, but order
            # letters and digits as "C" does (LIKE alone reads the whole index there).
            matches = ((tracking >= number.rstrip("-")) & (tracking < _next_prefix(number))
                       & tracking.startswith(number))
        filters.append(col(Task.submission_id).in_(select(Submission.id).where(matches)))
    return filters


def _filter_clauses(query: InboxQuery, today: dt.date, soon: dt.date) -> list:
    """The clauses of the status, service and due filters."""
    clauses = []
    if query.status in TASK_STATUSES:
        clauses.append(Task.status == query.status)
    if query.bundle:
        clauses.append(Task.bundle_code == query.bundle)
    if query.due in ("overdue", "soon"):
        # Only a running clock: a task waiting for the applicant's correction, or for
        # another matter, is due no sooner for the days passing (as the reminders count).
        # Read, and counted, from the index of running clocks alone.
        clauses += ([col(Task.due_date) < today] if query.due == "overdue"
                    else [col(Task.due_date) >= today, col(Task.due_date) <= soon])
        clauses.append(clock.running())
    elif query.status == OPEN:
        clauses.append(_OPEN_TASK)  # the first view, from the index of open tasks
    return clauses


def _ending_in(tail: str):
    """Tasks of the cases whose tracking number ends in these six characters (indexed)."""
    return col(Task.submission_id).in_(
        select(Submission.id).where(tracking_tail(col(Submission.tracking_number)) == tail))


def name_matches(name: str, dialect: str):
    """Tasks whose party's name holds the text, letters of either case alike.

    A text without letters of two cases (Chinese characters, digits) is matched by plain
    LIKE on both databases: ILIKE finds the same there, at three times the work on
    PostgreSQL. With such letters, PostgreSQL's ILIKE, and SQLite's LIKE, which ignores
    the case of ASCII letters (as its lower() does) and only theirs.
    """
    pattern = "%" + name.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"
    party = col(Task.party_name)
    if dialect == "postgresql" and name.lower() != name.upper():
        return party.ilike(pattern, escape="/")
    return party.like(pattern, escape="/")


@dataclass
class InboxPage:
    """One page of the inbox: its rows, how many come before it and how many match."""

    rows: list
    position: int
    total: int

    @property
    def first(self) -> int:
        """The number of the page's first row, counting from 1."""
        return self.position + 1

    @property
    def last(self) -> int:
        """The number of the page's last row."""
        return self.position + len(self.rows)


def _keys(query: InboxQuery, table=Task) -> tuple:
    """The list's order: (due date, id), or id newest first."""
    columns = table.c if table is not Task else None
    if query.sort == "new":
        return (columns.id if columns is not None else col(Task.id),)
    if columns is not None:
        return columns.due_date, columns.id
    return col(Task.due_date), col(Task.id)


def _beyond(keys: tuple, query: InboxQuery, key: tuple, later: bool):
    """Rows after the key in the list's order (later), or before it."""
    descending = query.sort == "new"
    row = tuple_(*keys) if len(keys) > 1 else keys[0]
    value = key if len(keys) > 1 else key[0]
    return row > value if later != descending else row < value


def _rows(session, filters: list, query: InboxQuery, by_name: bool) -> list:
    """The rows of the page the query asks for, read from an index in the list's order (no
    OFFSET). A name search's rows also carry how many match (`matched`) and how many of
    them come before the key the page starts from (`ahead`)."""
    descending = query.sort == "new"
    backward = query.before is not None
    ascending = descending == backward

    def placed(statement, keys: tuple):
        # From the key on, in the order read (backwards for a link to the page before).
        if backward:
            statement = statement.where(_beyond(keys, query, query.before, later=False))
        elif query.after is not None:
            statement = statement.where(_beyond(keys, query, query.after, later=True))
        return statement.order_by(*(key if ascending else key.desc() for key in keys))

    if by_name:
        # The matching keys first, from the index of names (a name matches anywhere in it,
        # so the department's whole range of it is read, but never the rows), the page's
        # keys of them, and only then the page's rows: walking the list's order instead
        # reads every row until 50 match, and joining every match before the LIMIT reads
        # all of theirs.
        # The exact counts come from the same matches: the index is read once.
        matches = (select(Task.id, Task.due_date).where(*filters).cte("matches")
                   .prefix_with("MATERIALIZED"))
        found = placed(select(matches.c.id, matches.c.due_date), _keys(query, matches))
        found = found.limit(PAGE_SIZE + 1).subquery("found")
        matched = select(func.count()).select_from(matches)
        ahead = (matched.where(~_beyond(_keys(query, matches), query, query.after, later=True))
                 if query.after is not None else
                 matched.where(_beyond(_keys(query, matches), query, query.before, later=False))
                 if backward else select(literal(0)))
        statement = placed(select(*_ROW, matched.scalar_subquery().label("matched"),
                                  ahead.scalar_subquery().label("ahead"))
                           .select_from(found).join(Task, col(Task.id) == found.c.id),
                           _keys(query, found))
    else:
        statement = placed(select(*_ROW).where(*filters), _keys(query))
    statement = statement.join(Submission, col(Submission.id) == col(Task.submission_id))
    rows = list(session.exec(statement.limit(PAGE_SIZE + 1)).all())
    # Read backwards from the key, the page is the rows nearest to it, in list order.
    return rows[:PAGE_SIZE][::-1] if backward else rows[:PAGE_SIZE]


def _ahead(query: InboxQuery, rows: list):
    """Rows before the page's first one, counted (a count of nothing on the first page)."""
    if not rows or (query.after is None and query.before is None):
        return func.count().filter(false())
    first = (rows[0].id,) if query.sort == "new" else (rows[0].due_date, rows[0].id)
    return func.count().filter(_beyond(_keys(query), query, first, later=False))


@bp.get("/")
def index():
    """The department's tasks, 50 a page: filtered, sorted, searched, with exact counts."""
    session = get_session()
    department = _department()
    query = _inbox_query()
    today = china_today()
    soon = add_working_days(today, SOON_DAYS).date
    search = search_of(query.q)
    filters = _filters(department, query, today, soon, session.get_bind().dialect.name, search)
    by_name = search is not None and search[0] in ("name", "name_or_tail")
    full = not request.headers.get("HX-Request")
    rows = _rows(session, filters, query, by_name)
    if not rows and (query.after or query.before):
        # A link past what is there now (tasks decided or moved since): its first page.
        query.after = query.before = None
        rows = _rows(session, filters, query, by_name)
    # The exact counts: what matches and what comes before the page, with the counts by
    # status on a full page, all counted in one read of one index (counting the two apart
    # read the department's index twice on a deep page: the most of its time).
    counts = {}
    only_status = not (query.bundle or query.due or query.q)
    if full:
        # (department, status) pairs from their own small index.
        grouped = session.exec(select(Task.status, func.count(),
                                      _ahead(query, rows) if only_status
                                      else func.count().filter(false()))
                               .where(Task.department_code == department)
                               .group_by(Task.status)).all()
        counts = {status: count for status, count, _ in grouped}
    if full and only_status:
        scope = ({query.status} if query.status in TASK_STATUSES else
                 set(OPEN_STATUSES) if query.status == OPEN else set(counts))
        total = sum(count for status, count, _ in grouped if status in scope)
        position = sum(ahead for status, _, ahead in grouped if status in scope)
    elif by_name:
        total = rows[0].matched if rows else 0
        # Before the key, less the page itself when it was read backwards from there.
        position = (rows[0].ahead - len(rows) if query.before else rows[0].ahead) if rows else 0
    else:
        total, position = session.exec(select(func.count(), _ahead(query, rows))
                                       .select_from(Task).where(*filters)).one()
    page = InboxPage(rows, position, total)
    context = {"rows": page.rows, "page": page, "query": query, "status": query.status,
               "bundle": query.bundle, "due": query.due, "today": today, "soon": soon,
               "statuses": TASK_STATUSES, "account": current_account(),
               "search_problem": SEARCH_TOO_LONG if query.too_long else
               SEARCH_PROBLEM if query.q and search is None else None,
               "link_problem": LINK_PROBLEM if query.misread else None,
               "bundles": list(session.execute(_BUNDLES_OF, {"department": department})
                               .scalars()),
               "previous_link": query.link(before=_key_text(query.sort, page.rows[0]))
               if page.position > 0 else None,
               "next_link": query.link(after=_key_text(query.sort, page.rows[-1]))
               if page.last < total else None}
    codes = {code for row in page.rows for code in (row.matter_code, row.bundle_code)}
    # The page's cases another department refused: they can no longer complete, which
    # matters more to an open task than its due date (one query, the page's cases only).
    context["ended"] = set(session.exec(select(Task.submission_id).where(
        col(Task.submission_id).in_({row.submission_id for row in page.rows}),
        Task.status == "rejected")).all()) if page.rows else set()
    names = service_names(session, codes | set(context["bundles"]))
    if not full:
        # A filter change or another page swaps the form with the rows and the pager (so
        # that the form says what the rows are, after Back too); the counts stay.
        return render_template("_inbox_list.html", names=names, **context)
    from onething.cases.ratings import overdue

    return render_template("inbox.html", counts=counts,
                           open_count=sum(counts.get(status, 0) for status in OPEN_STATUSES),
                           rectifications_overdue=overdue(session, department, today),
                           names=names, **context)


def service_names(session, codes: set[str]) -> dict[str, object]:
    """The published names of matters and bundles by code (staff read names, not codes)."""
    if not codes:
        return {}
    return dict(session.exec(select(PublishedService.code, PublishedService.name).where(
        col(PublishedService.code).in_(sorted(codes)))).all())


@bp.get("/tasks/<row_id:task_id>")
def task(task_id: int):
    """One task: its slice of fields, its materials, what is still owed and what was promised."""
    return _render_task(_own_task(task_id))


def _composition_of(task: Task):
    session = get_session()
    submission = session.get(Submission, task.submission_id)
    return submission_composition(session, submission)


def _render_task(task: Task, *, refused=None, upload_problem=None, status: int = 200,
                 handover_errors=None, typed=None, clock_refused=None, revoke_refused=None,
                 inspection_refused=None, refused_action=None):
    from onething.cases import clock, inspections
    from onething.cases.decisions import (
        ALLOWED,
        audit_of,
        correctable_fields,
        refused_elsewhere,
        reuploadable,
    )

    session = get_session()
    submission = session.get(Submission, task.submission_id)
    composition = _composition_of(task)
    case_refused = refused_elsewhere(session, task)
    # While a special procedure runs the task is neither decided nor sent back: its
    # forms would only be refused.
    correctable = correctable_fields(session, task, composition)
    actions = [action for action, states in ALLOWED.items() if task.status in states
               and (action != "close" or case_refused)
               and not (task.special_procedure and action != "accept")
               # A correction names something to correct: none is offered without it.
               and (action != "supplement" or correctable or reuploadable(task))]
    audit = audit_of(session, task)
    template = "_task_decision.html" if request.headers.get("HX-Request") else "task.html"
    return render_template(template, task=task, submission=submission,
                           composition=composition, today=china_today(),
                           correctable=correctable,
                           account=current_account(), actions=actions, refused=refused,
                           refused_action=refused_action,
                           certificate_upload_problem=upload_problem,
                           handover_errors=handover_errors or {},
                           typed=typed if typed is not None else MultiDict(),
                           audit=audit, case_refused=case_refused,
                           corrections=[e for e in audit if e.action == "correct"],
                           clock_refused=clock_refused, special_kinds=clock.SPECIAL_KINDS,
                           calendar_unknown=clock.calendar_unknown(session, task),
                           filed_by=filed_by(session, submission),
                           revocation=session.exec(select(PermitRevocation).where(
                               PermitRevocation.task_id == task.id)).first(),
                           revoke_refused=revoke_refused,
                           inspection=(inspection := inspections.inspection_of(
                               session, task.submission_id)),
                           findings=inspections.findings_of(session, inspection),
                           inspection_refused=inspection_refused), status


def filed_by(session, submission: Submission) -> str | None:
    """The front-desk clerk who filed the case for the applicant (一窗受理), or None."""
    username = session.exec(select(Draft.created_by).where(
        Draft.id == submission.draft_id)).one_or_none()
    if not username:
        return None
    name = session.exec(select(Account.display_name).where(
        Account.username == username)).first()
    return f"{name} ({username})" if name else username


@bp.get("/tasks/<row_id:task_id>/<any(revoke, decide, 'special-procedure', inspection):_action>")
def task_action_address(task_id: int, _action: str):
    """An action's address opened (a refused form's page reloaded, without JavaScript, or
    a copied link): the task's page, where actions are taken."""
    from flask import redirect, url_for

    return redirect(url_for("inbox.task", task_id=_own_task(task_id).id), 303)


@bp.post("/tasks/<row_id:task_id>/revoke")
def revoke_task(task_id: int):
    """Revoke the department's approved permit, with a reason (the licence then says so)."""
    from onething.cases.licences import PROBLEMS, RevocationRefused, revoke

    task = _own_task(task_id)
    if request.form.get("confirm") != "yes":
        # A permit revoked by a slip of the finger is a wrong the applicant bears.
        return _render_task(task, revoke_refused=_l("Tick the confirmation to revoke the "
                                                    "permit; nothing was changed."),
                            status=422, typed=request.form, refused_action="revoke")
    try:
        revoke(get_session(), task, current_account().username, request.form.get("reason"))
    except RevocationRefused as refused:
        return _render_task(task, revoke_refused=PROBLEMS[refused.code],
                            status=409 if refused.code in ("not_approved", "revoked") else 422,
                            typed=request.form, refused_action="revoke")
    return _task_again(task)


@bp.get("/tasks/<row_id:task_id>/application.pdf")
def application_pdf(task_id: int):
    """The application form (申请表) of this task's slice only, drawn on request."""
    from flask import Response

    from onething.cases.application import slice_pdf

    task = _own_task(task_id)
    submission = get_session().get(Submission, task.submission_id)
    name = f"{submission.tracking_number}-{task.matter_code}.pdf"
    return Response(slice_pdf(task, submission, _composition_of(task)),
                    mimetype="application/pdf", headers={
                        "Content-Disposition": f'inline; filename="{name}"',
                        "Cache-Control": "private, no-store"})


def _task_again(task: Task):
    """After an action: the task page again (a redirect without htmx, its panel with it)."""
    if not request.headers.get("HX-Request"):
        from flask import redirect, url_for

        return redirect(url_for("inbox.task", task_id=task.id))
    return _render_task(task)


@bp.get("/tasks/<row_id:task_id>/materials/<material_id>")
def material(task_id: int, material_id: str):
    """Download a material of the task's slice (never one of another department's)."""
    task = _own_task(task_id)
    found = slice_material(task, material_id)
    if found is None:
        abort(404, description="task")
    entry, path = found
    return send_file(path, mimetype=entry["content_type"], as_attachment=True,
                     download_name=_download_name(task, material_id, entry))


def _download_name(task: Task, material_id: str, entry: dict) -> str:
    """The case's number and the material's name (OT20261202-ABC123-法定代表人身份证件.pdf):
    ten files all called scan.pdf cannot be told apart in a downloads folder."""
    from onething.web.i18n import localized

    submission = get_session().get(Submission, task.submission_id)
    material = next((m for m in _composition_of(task).materials if m.id == material_id), None)
    title = re.sub(r'[\\/:*?"<>|]', "", localized(material.name)) if material else material_id
    suffix = re.search(r"\.[A-Za-z0-9]{1,5}$", entry.get("filename") or "")
    kinds = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}
    extension = suffix.group(0).lower() if suffix else kinds.get(entry.get("content_type"), "")
    return f"{submission.tracking_number}-{title}{extension}"


@bp.get("/tasks/<row_id:task_id>/certificate")
def certificate(task_id: int):
    """The certificate file this department issued with its approval, to check what went out."""
    from onething.cases.uploads import stored_path

    task = _own_task(task_id)
    stored = task.certificate_file
    path = stored_path(stored["file"]) if stored else None
    if path is None or not path.exists():
        abort(404, description="task")
    return send_file(path, mimetype=stored["content_type"], as_attachment=True,
                     download_name=stored["filename"])


@bp.post("/tasks/<row_id:task_id>/decide")
def decide_task(task_id: int):
    """Accept, approve (with a certificate number), reject or close (with a reason) a task."""
    from onething.cases.decisions import DecisionRefused, decide

    task = _own_task(task_id)
    form = request.form
    certificate_file = None
    upload = request.files.get("certificate_file")
    if form.get("action") == "approve" and upload is not None and upload.filename:
        stored, problem = store_upload(upload)
        if problem:
            return _render_task(task, upload_problem=problem, status=422, typed=form,
                                refused_action="approve")
        certificate_file = {"file": stored.sha256, "filename": upload.filename,
                            "content_type": stored.content_type}
    produced = None
    if form.get("action") == "approve" and task.status == "accepted" and produced_fields(task):
        produced, errors = read_values(_composition_of(task).bundle.catalog, task, form)
        if errors:
            return _render_task(task, refused=DecisionRefused("produced"), status=422,
                                handover_errors=errors, typed=form, refused_action="approve")
    try:
        decide(get_session(), task, form.get("action", ""), current_account().username,
               certificate_number=form.get("certificate_number"), reason=form.get("reason"),
               fields=form.getlist("fields"), materials=form.getlist("materials"),
               certificate_file=certificate_file, produced=produced,
               seen=form.get("seen"))
    except DecisionRefused as refused:
        if refused.code == "changed":
            # Decided on what the task no longer is: nothing typed is put back, not even
            # into a form of the same name that now means another decision (不予受理 is
            # 不予许可 once accepted).
            return _render_task(task, refused=refused, status=409)
        # What was typed stays in its fields: the refusal says what to fix, nothing is lost.
        return _render_task(task, refused=refused, status=409 if refused.task else 422,
                            refused_action=form.get("action"), typed=form)
    return _task_again(task)


@bp.post("/tasks/<row_id:task_id>/special-procedure")
def special_procedure(task_id: int):
    """Declare a special procedure (特别程序) on a task, with its kind and reason, or end it."""
    from onething.cases import clock

    task = _own_task(task_id)
    form = request.form
    try:
        if form.get("end"):
            clock.end_special_procedure(get_session(), task, current_account().username)
        else:
            clock.begin_special_procedure(get_session(), task, form.get("kind", ""),
                                          form.get("reason", ""), current_account().username)
    except clock.ClockRefused as refused:
        return _render_task(task, clock_refused=refused, typed=form,
                            refused_action="special_procedure",
                            status=409 if refused.code in ("state", "none_open") else 422)
    return _task_again(task)


@bp.get("/cases")
def cases():
    """The cases this department leads, newest first, 50 a page, with each task's progress."""
    session = get_session()
    try:
        number = int(request.args.get("page", "1"))
    except ValueError:
        number = 1
    statement = (select(Submission.id, Submission.tracking_number, Submission.submitted_at,
                        BundleVersion.bundle_code, BundleVersion.name)
                 .join(BundleVersion, col(BundleVersion.id) == col(Submission.bundle_version_id))
                 .where(Submission.lead_department == _department())
                 .order_by(col(Submission.submitted_at).desc(), col(Submission.id).desc()))
    page = paginate(session, statement, number, CASES_PAGE_SIZE)
    tasks: dict[int, list] = {row.id: [] for row in page.rows}
    if tasks:
        for task in session.exec(select(*_COORDINATION).where(
                col(Task.submission_id).in_(list(tasks))).order_by(col(Task.id))).all():
            tasks[task.submission_id].append(task)
    return render_template("inbox_cases.html", rows=page.rows, tasks=tasks, total=page.total,
                           page=page.number, pages=page.pages, today=china_today(),
                           account=current_account())


@bp.get("/cases/<tracking_number>")
def case(tracking_number: str):
    """One case this department leads: every task's department, status, due date, decision."""
    session = get_session()
    submission = session.exec(select(Submission).where(
        Submission.tracking_number == tracking_number[:32],
        Submission.lead_department == _department())).first()
    if submission is None:
        abort(404, description="task")
    return _render_case(submission)


def _render_case(submission: Submission, *, inspection_refused=None, typed=None,
                 status: int = 200):
    from onething.cases import inspections

    session = get_session()
    version = get_version(session, submission.bundle_version_id)
    bundle = bundle_of(version)
    tasks = session.exec(select(*_COORDINATION, Task.certificate_number, Task.reason)
                         .where(Task.submission_id == submission.id)
                         .order_by(col(Task.id))).all()
    inspection = inspections.inspection_of(session, submission.id)
    return render_template("inbox_case.html", submission=submission, version=version,
                           catalog=bundle.catalog, tasks=tasks, today=china_today(),
                           account=current_account(),
                           inspecting=inspections.inspecting_departments(bundle, tasks),
                           inspection=inspection,
                           findings=inspections.findings_of(session, inspection),
                           inspection_refused=inspection_refused, typed=typed or {}), status


@bp.post("/cases/<tracking_number>/inspection")
def schedule_inspection(tracking_number: str):
    """The lead department sets (or moves) the case's joint inspection (一同核查)."""
    from flask import redirect, url_for

    from onething.cases import inspections

    session = get_session()
    # Only the lead department's: any other, inspecting or not, does not find the case here.
    submission = session.exec(select(Submission).where(
        Submission.tracking_number == tracking_number[:32],
        Submission.lead_department == _department())).first()
    if submission is None:
        abort(404, description="task")
    bundle = bundle_of(get_version(session, submission.bundle_version_id))
    try:
        inspections.schedule(session, submission, bundle, _department(),
                             current_account().username,
                             inspections.parse_when(request.form.get("when")),
                             request.form.get("place"))
    except inspections.InspectionRefused as refused:
        return _render_case(submission, inspection_refused=inspections.PROBLEMS[refused.code],
                            typed=request.form, status=409 if refused.code == "recorded" else 422)
    return redirect(url_for("inbox.case", tracking_number=submission.tracking_number))


@bp.post("/tasks/<row_id:task_id>/inspection")
def record_findings(task_id: int):
    """The department's own findings at the joint inspection: pass or fail, with notes."""
    from flask import redirect, url_for

    from onething.cases import inspections

    task = _own_task(task_id)
    outcome = request.form.get("outcome")
    try:
        inspections.record(get_session(), inspections.inspection_of(get_session(),
                                                                    task.submission_id),
                           _department(), current_account().username,
                           {"pass": True, "fail": False}.get(outcome), request.form.get("notes"))
    except inspections.InspectionRefused as refused:
        return _render_task(task, inspection_refused=inspections.PROBLEMS[refused.code],
                            status=422 if refused.code == "outcome" else 409)
    return redirect(url_for("inbox.task", task_id=task.id))


# --- 秒批: the department's switch per matter -----------------------------------------------------


def _instant_matters() -> list[dict]:
    """The department's matters that declare instant approval, each with its state."""
    from onething.cases import instant

    found = []
    for entry in get_session().exec(_matters_declaring("instant_approval")).all():
        data = json.loads(entry.text)
        if data.get("department") == _department() and "instant_approval" in data:
            found.append({"code": data["code"], "name": data["name"],
                          "rules": data.get("rules", []),
                          "on": instant.enabled(get_session(), data["code"])})
    return found


@bp.get("/instant")
def instant():
    """秒批: which of the department's matters the system approves at routing, and a switch."""
    return render_template("instant.html", matters=_instant_matters(),
                           account=current_account())


@bp.post("/instant/<matter_code>")
def set_instant(matter_code: str):
    """Turn 秒批 on or off for one of the department's matters (audited)."""
    from onething.cases import instant as instant_approval

    if matter_code not in {m["code"] for m in _instant_matters()}:
        abort(404, description="matter")
    on = request.form.get("on") == "1"
    instant_approval.set_enabled(get_session(), matter_code, on, current_account().username)
    return render_template("instant.html", matters=_instant_matters(), changed=matter_code,
                           account=current_account())


@bp.get("/benefits")
def benefits():
    """免申即享: the offers of the department's benefit matters, with their answers."""
    from onething.storage.models import BenefitOffer

    session = get_session()
    matters = []
    for entry in session.exec(_matters_declaring("benefit")).all():
        data = json.loads(entry.text)
        if data.get("department") == _department() and "benefit" in data:
            offers = session.exec(select(BenefitOffer).where(
                BenefitOffer.matter_code == data["code"])
                .order_by(col(BenefitOffer.id).desc()).limit(PAGE_SIZE * 4)).all()
            matters.append({"code": data["code"], "name": data["name"], "offers": offers})
    return render_template("benefits.html", matters=matters, account=current_account())
