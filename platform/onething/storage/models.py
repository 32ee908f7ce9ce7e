"""Storage of the applicant side: published bundle versions, drafts, submissions and tasks.

A BundleVersion freezes every definition a bundle needs (the bundle, its nested
bundles, its matters, their departments and the whole field library), so a
draft started on version 1 is composed, validated and routed the version-1 way
even after an administrator publishes version 2.

A Draft is the one form in progress; its secret resume token is never stored,
only its SHA-256. Submitting a draft creates one Submission (受理) and routes
it into Tasks.

There is one Task per step of the routing plan, i.e. per (department, matter),
not one per department: a department with two matters in one bundle gets two
tasks, because one can wait for the other (the food licence waits for the
business licence, both at the market regulator). Each task holds only its
step's slice of the data and materials, because a submission holds personal
data and each department may see only what its matter declared.

Every table follows the family pattern: XBase holds the columns clients may
see, X(table=True) adds the keys and secrets, XPublic is what an API returns.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, Text, UniqueConstraint, func, literal_column
from sqlalchemy import column as sql_column
from sqlalchemy import text as sql_text
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

SHA256_HEX_LENGTH = 64
# Row ids are 32-bit integers in both databases; a URL with a larger one names nothing.
MAX_ROW_ID = 2**31 - 1


class UTCDateTime(TypeDecorator):
    """A timezone-aware timestamp that always comes back in UTC, SQLite included."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        """Refuse naive datetimes and store every timestamp in UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            # A naive datetime is ambiguous (server time? China time?): fail loudly.
            raise ValueError("timestamps must be timezone-aware")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        """Give back an aware UTC datetime (SQLite drops the offset, storing UTC)."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def utc_now() -> dt.datetime:
    """The current time, timezone-aware, in UTC."""
    return dt.datetime.now(dt.UTC)


def _json(nullable: bool = False) -> Any:
    return Column(JSON, nullable=nullable)


# --- published bundle versions ---------------------------------------------------------------


class BundleVersionBase(SQLModel):
    """What a published version of a bundle is: its code, number and digest."""

    bundle_code: str = Field(max_length=100, index=True)
    number: int
    digest: str = Field(max_length=SHA256_HEX_LENGTH)
    name: Any = Field(sa_column=_json())
    published_at: dt.datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    published_by: str = Field(max_length=200)
    # Why it was published, when not plainly from the working catalog ("rollback to v2").
    note: str | None = Field(default=None, max_length=500)


class BundleVersion(BundleVersionBase, table=True):
    """A bundle frozen with every definition it needs; drafts and submissions pin one."""

    __tablename__ = "bundle_version"
    __table_args__ = (
        UniqueConstraint("bundle_code", "number", name="uq_bundle_version_code_number"),
        # The home page and the manual list the newest version of each bundle: read from
        # this index, not from rows that each carry a snapshot of tens of kilobytes.
        Index("ix_bundle_version_kind_code_number", "kind", "bundle_code", "number"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # [{"kind", "path", "data"}]: the bundle, nested bundles, matters, departments, fields.
    documents: list[dict] = Field(sa_column=_json())
    # The working catalog's digest this version stands for. A rollback keeps the one it
    # replaced, so "publish every changed bundle" leaves a rolled-back bundle alone until
    # its definitions change again (None: the version's own digest).
    source_digest: str | None = Field(default=None, max_length=SHA256_HEX_LENGTH)
    # "bundle", or "matter" for a matter applied for alone (its bundle of one).
    kind: str = Field(default="bundle", max_length=20,
                      sa_column_kwargs={"server_default": "bundle"})


class PublishedService(SQLModel, table=True):
    """The public directory's row for a bundle or a matter alone: its newest published version.

    Written with each publication and rollback, so the manual lists, filters and
    searches services without rebuilding any bundle from its snapshot.
    """

    __tablename__ = "published_service"
    __table_args__ = (Index("ix_published_service_kind_code", "kind", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=100, unique=True)
    kind: str = Field(max_length=20)  # "bundle" or "matter"
    version_id: int = Field(foreign_key="bundle_version.id", index=True)
    name: Any = Field(sa_column=_json())
    description: Any = Field(default=None, sa_column=_json(nullable=True))
    audience: str | None = Field(default=None, max_length=32)
    theme: str | None = Field(default=None, max_length=100)
    department_code: str | None = Field(default=None, max_length=100, index=True)
    department_name: Any = Field(default=None, sa_column=_json(nullable=True))
    # How many matters it holds (1 for a matter alone).
    matters: int = 1
    # {"texts": [[role, text]], "phrases", "spellings", "letters"}: see publishing.directory.
    search: dict = Field(sa_column=_json())


class BundleVersionPublic(BundleVersionBase):
    """A bundle version as an API shows it (without the snapshot)."""

    id: int


# --- accounts ---------------------------------------------------------------------------------

ROLES = ("administrator", "department_staff", "front_desk")


class AccountBase(SQLModel):
    """A person who signs in: an administrator, a department's staff, or the front desk."""

    username: str = Field(max_length=100, unique=True, index=True)
    display_name: str = Field(max_length=200)
    role: str = Field(max_length=32)  # one of ROLES
    # Department staff belong to exactly one department; the others to none.
    department_code: str | None = Field(default=None, max_length=100)


class Account(AccountBase, table=True):
    """An account with its password hash (werkzeug's scrypt), never the password."""

    __tablename__ = "account"

    id: int | None = Field(default=None, primary_key=True)
    password_hash: str = Field(max_length=300)
    disabled: bool = False
    created_at: dt.datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    # What the session cookie's stamp is made with: a sign-out draws another, ending the
    # account's sessions, copies of the cookie included (accounts.service).
    session_key: str = Field(default="", max_length=32, sa_column_kwargs={"server_default": ""})


class SignInFailure(SQLModel, table=True):
    """A failed sign-in, by address and by username: the limit every process shares."""

    __tablename__ = "sign_in_failure"

    id: int | None = Field(default=None, primary_key=True)
    address: str = Field(max_length=64, index=True)
    # As typed (lower-cased), known account or not: guessing at a name is limited too.
    username: str = Field(max_length=200, index=True)
    failed_at: dt.datetime = Field(default_factory=utc_now, sa_type=UTCDateTime, index=True)


class AccountCreate(AccountBase):
    """What creating an account takes: its fields and a password."""

    password: str


class AccountPublic(AccountBase):
    """An account as an API shows it."""

    id: int


# --- the working catalog --------------------------------------------------------------------


class CatalogEntryBase(SQLModel):
    """One definition file of the working catalog (草稿): what administrators edit."""

    kind: str = Field(max_length=20)  # field, department, matter or bundle
    code: str = Field(max_length=100)
    # Relative to a schemas folder, e.g. catalog/matters/food-business-licence.json.
    path: str = Field(max_length=300, unique=True)
    # The file's exact text: an export gives back the files that were imported, byte for
    # byte, so a definitions repository shows only real changes in its diffs.
    text: str = Field(sa_column=Column(Text, nullable=False))


class CatalogEntry(CatalogEntryBase, table=True):
    """A definition in the working catalog, with its revision for optimistic locking."""

    __tablename__ = "catalog_entry"
    __table_args__ = (UniqueConstraint("kind", "code", name="uq_catalog_entry_kind_code"),)

    id: int | None = Field(default=None, primary_key=True)
    # Bumped by every save: a save based on an older revision is refused, never merged.
    revision: int = 1
    updated_at: dt.datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    updated_by: str = Field(max_length=200)
    # What the console lists, filters and searches by, derived from the text at each save
    # so that no page reads every definition: the name in simplified Chinese, the lower-case
    # names with their pinyin and initials, a matter's department, a department's level.
    name: str | None = Field(default=None, sa_column=Column(Text))
    search_text: str | None = Field(default=None, sa_column=Column(Text))
    department_code: str | None = Field(default=None, max_length=100, index=True)
    level: str | None = Field(default=None, max_length=32)


class CatalogReference(SQLModel, table=True):
    """One working-catalog definition naming another: a bundle its items and lead department,
    a matter its department, a department its parent. Kept with the entries at each save.
    """

    __tablename__ = "catalog_reference"
    __table_args__ = (
        Index("ix_catalog_reference_source", "source_kind", "source_code"),
        Index("ix_catalog_reference_target", "target_kind", "target_code"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source_kind: str = Field(max_length=20)
    source_code: str = Field(max_length=100)
    target_kind: str = Field(max_length=20)
    target_code: str = Field(max_length=100)


class CatalogEntryPublic(CatalogEntryBase):
    """A working-catalog entry as an API shows it."""

    revision: int
    updated_at: dt.datetime
    updated_by: str


# --- uploaded files ---------------------------------------------------------------------------


class StoredFileBase(SQLModel):
    """An uploaded file, named by its content: files live on disk under their SHA-256."""

    sha256: str = Field(primary_key=True, max_length=SHA256_HEX_LENGTH)
    size: int
    content_type: str = Field(max_length=200)


class StoredFile(StoredFileBase, table=True):
    """The record of one stored file."""

    __tablename__ = "stored_file"

    created_at: dt.datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)


class StoredFilePublic(StoredFileBase):
    """A stored file as an API shows it."""

    created_at: dt.datetime


# --- drafts -----------------------------------------------------------------------------------


class DraftBase(SQLModel):
    """The one form in progress: scenario answers, field values and materials."""

    answers: dict = Field(default_factory=dict, sa_column=_json())
    # {"<shared field>": …, "matters": {"<matter code>": {…}}}
    data: dict = Field(default_factory=dict, sa_column=_json())
    # material id -> {"state": "uploaded"|"deferred"|"commitment", "file": sha256, ...}
    materials: dict = Field(default_factory=dict, sa_column=_json())


class Draft(DraftBase, table=True):
    """A draft of one applicant, reachable by its public id plus the secret token."""

    __tablename__ = "draft"

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(max_length=64, unique=True, index=True)
    # SHA-256 of the resume token: a leaked database does not let anyone resume a draft.
    token_hash: str = Field(max_length=SHA256_HEX_LENGTH)
    bundle_version_id: int = Field(foreign_key="bundle_version.id", index=True)
    created_at: dt.datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    updated_at: dt.datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    submitted_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The front-desk user who started it for the applicant (一窗受理), if any.
    # Indexed: the front desk lists the cases each clerk filed.
    created_by: str | None = Field(default=None, max_length=200, index=True)
    # The signed-in applicant who owns it (Applicant.subject): 我的办件 lists it on any
    # device, and the identity platform's verified values are kept in its fields.
    applicant: str | None = Field(default=None, max_length=SHA256_HEX_LENGTH, index=True)
    # Values filled in from data the government holds (智能预填): path -> {"source", "trust",
    # "value", "locked", ...}. A locked value is the licence's: saving the form keeps it.
    prefill: dict = Field(default_factory=dict, sa_column=_json())


class Applicant(SQLModel, table=True):
    """An applicant the identity platform (统一身份认证) verified, as it last said."""

    __tablename__ = "applicant"

    id: int | None = Field(default=None, primary_key=True)
    # SHA-256 of the issuer and its subject identifier (sub): stable per person and
    # platform, and meaningless anywhere else.
    subject: str = Field(max_length=SHA256_HEX_LENGTH, unique=True, index=True)
    name: str | None = Field(default=None, max_length=200)
    id_number: str | None = Field(default=None, max_length=64)
    mobile: str | None = Field(default=None, max_length=64)
    signed_in_at: dt.datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    # As an account's: a sign-out draws another, ending the applicant's sessions.
    session_key: str = Field(default="", max_length=32, sa_column_kwargs={"server_default": ""})


class DraftUpdate(SQLModel):
    """What a save may change; what is left out stays as it is."""

    answers: dict | None = None
    data: dict | None = None
    materials: dict | None = None


class DraftPublic(DraftBase):
    """A draft as an API shows it: no row id, no token hash."""

    public_id: str
    bundle_version_id: int
    created_at: dt.datetime
    updated_at: dt.datetime
    submitted_at: dt.datetime | None


# --- submissions ------------------------------------------------------------------------------


class SubmissionBase(SQLModel):
    """A submitted application (受理), as validated, with its tracking number."""

    tracking_number: str = Field(max_length=32, unique=True, index=True)
    answers: dict = Field(sa_column=_json())
    # Only the fields of applicable matters, exactly as validated.
    data: dict = Field(sa_column=_json())
    # Only the applicable materials, in the draft's shape; shared data has state "shared".
    materials: dict = Field(sa_column=_json())
    status: str = Field(default="routed", max_length=32)
    submitted_at: dt.datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    # The lead department (牵头部门), whose window accepted the case (一窗受理): it follows
    # every task of it, whether or not any of its own matters applies.
    lead_department: str | None = Field(default=None, max_length=100, index=True)


# Where a tracking number's six random characters start ("OT", the date, a dash): what a
# caller reads out on the phone, and what staff type to find the case.
TRACKING_TAIL_START = 12


def tracking_tail(number):
    """A tracking number's last six characters, as SQL: spelled exactly as their index is.

    The start is a literal, not a parameter: neither database uses an index on an
    expression unless the query's is the same expression.
    """
    return func.substr(number, literal_column(str(TRACKING_TAIL_START)))


class Submission(SubmissionBase, table=True):
    """One submission per draft, however often the applicant clicks."""

    __tablename__ = "submission"
    __table_args__ = (
        # The statistics' date ranges, with the realised savings: read from the index alone.
        Index("ix_submission_statistics", "submitted_at", "bundle_version_id", "saved_forms",
              "saved_fields", "saved_materials", "saved_visits", "saved_days"),
        # The inbox's search by a number's end (migration 0035).
        Index("ix_submission_tracking_tail", tracking_tail(sql_column("tracking_number"))),
    )

    id: int | None = Field(default=None, primary_key=True)
    draft_id: int = Field(foreign_key="draft.id", unique=True, index=True)
    bundle_version_id: int = Field(foreign_key="bundle_version.id", index=True)
    # The unique key is what turns a double click or a retry into the same submission.
    idempotency_key: str = Field(max_length=200, unique=True, index=True)
    # The draft's: the same resume token lets the applicant follow the submission.
    token_hash: str = Field(max_length=SHA256_HEX_LENGTH)
    # What this applicant's case saved them (cases/statistics.py sums these): forms,
    # fields, materials, visits and serial days, for the answers they gave. None before
    # migration 0026.
    saved_forms: int | None = None
    saved_fields: int | None = None
    saved_materials: int | None = None
    saved_visits: int | None = None
    saved_days: int | None = None


class SubmissionPublic(SubmissionBase):
    """A submission as an API shows it."""

    bundle_version_id: int


# --- tasks ------------------------------------------------------------------------------------


# A task's statuses, in the order department staff meet them: new, in hand, waiting on
# someone else, then done one way or the other.
TASK_STATUSES = ("pending", "accepted", "supplement", "waiting", "approved", "rejected", "stopped",
                 "closed")


class TaskBase(SQLModel):
    """One department's work on one matter of a submission, with its slice and due date."""

    department_code: str = Field(max_length=100)
    matter_code: str = Field(max_length=100)
    # The bundle its submission applied for (the submission's version's code, never changed):
    # kept on the task so the inbox filters and counts by service from the task's indexes.
    bundle_code: str = Field(max_length=100)
    # One of TASK_STATUSES: "waiting" while it waits for other tasks' approval, else "pending".
    status: str = Field(max_length=32)
    waits_for: list[str] = Field(default_factory=list, sa_column=_json())
    slice_data: dict = Field(sa_column=_json())
    # [{"id", "state", "file", "filename", …}] for the step's materials only.
    slice_materials: list[dict] = Field(sa_column=_json())
    promised_days: int
    due_date: dt.date
    # True when the count ran past the published holiday calendar.
    due_estimated: bool = False
    created_at: dt.datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    # Set on creation and by every UPDATE of the row (decisions, unlocking, stopping, values
    # handed over, corrections): departments' systems sync by (updated_at, id).
    updated_at: dt.datetime = Field(default_factory=utc_now, sa_type=UTCDateTime,
                                    sa_column_kwargs={"onupdate": utc_now})


# A task decided already is due no more.
# "closed": its department ended it, with a reason, after another matter of the case was refused.
TASK_DONE = ("approved", "rejected", "stopped", "closed")
_TASK_OPEN = "status NOT IN ('approved', 'rejected', 'stopped', 'closed')"
# The tasks whose clock runs: their department is working on them (a waiting task's clock
# has not started) and nothing stopped it (a correction asked, a special procedure). Only
# these can be overdue or due soon (the inbox's marks and filters, the reminders).
TASK_RUNNING = ("pending", "accepted")
_TASK_RUNNING = "status IN ('pending', 'accepted') AND paused_since IS NULL"


class Task(TaskBase, table=True):
    """A routed task: one per step of the submission's routing plan."""

    __tablename__ = "task"
    # Each list a department reads a page at a time has an index in its order, behind the
    # department (and the status when filtered by it), so a page is a short index range
    # however many tasks there are (keyset paging, no OFFSET); counts by status or service
    # are read from the indexes alone.
    __table_args__ = (
        # The tasks whose clock runs, by due date: the inbox's overdue and due soon, counted
        # from the index alone, and the deadline reminders (migration 0036).
        Index("ix_task_department_running_due", "department_code", "due_date", "id",
              sqlite_where=sql_text(_TASK_RUNNING), postgresql_where=sql_text(_TASK_RUNNING)),
        # Counts by status, from a small index (PostgreSQL stores each pair once).
        Index("ix_task_department_status", "department_code", "status"),
        # The inbox by due date, and its overdue / due soon ranges.
        Index("ix_task_department_due", "department_code", "due_date", "id"),
        # The inbox's first view, the open tasks by due date (and their overdue / due soon
        # ranges), without reading past the decided ones due earlier.
        Index("ix_task_department_open_due", "department_code", "due_date", "id",
              sqlite_where=sql_text(_TASK_OPEN), postgresql_where=sql_text(_TASK_OPEN)),
        Index("ix_task_department_open_bundle_due", "department_code", "bundle_code",
              "due_date", "id", sqlite_where=sql_text(_TASK_OPEN),
              postgresql_where=sql_text(_TASK_OPEN)),
        Index("ix_task_department_status_due", "department_code", "status", "due_date", "id"),
        Index("ix_task_department_bundle_due", "department_code", "bundle_code", "due_date",
              "id"),
        # The inbox newest first. Of one status, SQLite reads ix_task_department_status, whose
        # entries end with the row id; PostgreSQL walks this one or sorts the few of a rare
        # status: an index of its own cost every submit more than it saved.
        Index("ix_task_department_id", "department_code", "id"),
        # The inbox's search by credit code.
        Index("ix_task_department_party_code", "department_code", "party_code"),
        # The inbox's search by name, which matches anywhere in a name: its department's
        # names are read from this index with the list's keys, never from the rows.
        Index("ix_task_department_party_name", "department_code", "party_name", "due_date",
              "id"),
        # The API's sync order.
        Index("ix_task_department_updated", "department_code", "updated_at", "id"),
        # The statistics' date ranges (a task is created when its case is submitted), with
        # every column they group and count by: a range is read from the index alone,
        # never from rows that carry the slices' data.
        Index("ix_task_statistics", "created_at", "department_code", "bundle_code",
              "matter_code", "status", "days_taken", "on_time", "supplements", "promised_days"),
        Index("ix_task_department_status_updated", "department_code", "status", "updated_at",
              "id"),
        # The statistics' summary finds the tasks changed since its last refresh.
        Index("ix_task_updated", "updated_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submission.id", index=True)
    # The decision: approved with a certificate number, or rejected / stopped / closed with a
    # reason.
    decided_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    certificate_number: str | None = Field(default=None, max_length=100)
    reason: str | None = Field(default=None, max_length=2000)
    # Refused before it was accepted (不予受理), not after examination (不予许可): the
    # status is "rejected" either way.
    not_accepted: bool = False
    # The issued certificate's file, if one was given: {"file", "filename", "content_type"}.
    certificate_file: dict | None = Field(default=None, sa_column=_json(nullable=True))
    # An open request for correction (补正): {"fields", "materials", "note", "from"}.
    supplement: dict | None = Field(default=None, sa_column=_json(nullable=True))
    # Values handed over between matters (办结产出): {"produces": [field], "receives": [field],
    # "values": {field: value}} (values once this task's approval gave them).
    handover: dict | None = Field(default=None, sa_column=_json(nullable=True))
    # The clock (cases/clock.py): how the matter's limit counts, the day it started (None
    # while the task waits for others), the days taken off it by pauses that ended, and
    # the day the present pause began (补正 with the applicant, or a 特别程序).
    counting: str = Field(default="working_days", max_length=32,
                          sa_column_kwargs={"server_default": "working_days"})
    clock_started_on: dt.date | None = None
    paused_days: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    paused_since: dt.date | None = None
    # A special procedure (特别程序, 行政许可法 art. 45) under way: {"kind", "reason", "since"}.
    special_procedure: dict | None = Field(default=None, sa_column=_json(nullable=True))
    # Who the case is for, as this task's slice names them (cases/parties.py): the inbox
    # shows them and finds them by name or credit code.
    party_name: str | None = Field(default=None, max_length=200)
    party_code: str | None = Field(default=None, max_length=18)
    # Set by the decision (approved or rejected), for the statistics: the days its clock
    # ran, pauses excluded, counted as its limit counts, and whether it was decided by
    # its due date. None for tasks decided before migration 0026.
    days_taken: int | None = None
    on_time: bool | None = None
    # How many corrections (补正) its department asked for.
    supplements: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


# --- ratings (好差评) and the follow-up of bad ones (整改) -------------------------------------

# The five levels of GB/T 39734 (一次一评、一事一评), 5 the best; 1 and 2 are bad ratings (差评).
RATING_LEVELS = (1, 2, 3, 4, 5)
BAD_RATING = 2


class Rating(SQLModel, table=True):
    """An applicant's rating of one task (一事一评) or of the case's window service (一次一评).

    One per task and one per case (`target`), changed in place within its window; every
    version is kept in rating_change. The department, matter and bundle are copied onto
    the row so that statistics group by them (and by month) from this table alone.
    """

    __tablename__ = "rating"
    __table_args__ = (
        UniqueConstraint("submission_id", "target", name="uq_rating_submission_target"),
        Index("ix_rating_department_created", "department_code", "created_at"),
        Index("ix_rating_bundle_created", "bundle_code", "created_at"),
        # The statistics' date ranges, read from the index alone.
        Index("ix_rating_statistics", "created_at", "department_code", "bundle_code",
              "matter_code", "level"),
        # The statistics' summary finds the ratings changed since its last refresh.
        Index("ix_rating_updated", "updated_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submission.id", index=True)
    # "case" for the window service of the whole case, else "task:<id>".
    target: str = Field(max_length=32)
    task_id: int | None = Field(default=None, foreign_key="task.id")
    # The rated department: the task's, or for the case the hall's lead department.
    department_code: str = Field(max_length=100)
    # The task's matter; None for a rating of the whole case.
    matter_code: str | None = Field(default=None, max_length=100, index=True)
    bundle_code: str = Field(max_length=100)
    level: int  # one of RATING_LEVELS
    tags: list[str] = Field(default_factory=list, sa_column=_json())
    comment: str | None = Field(default=None, sa_column=Column(Text))
    # "online" (the applicant's status page) or "window" (recorded by a front-desk clerk).
    channel: str = Field(default="online", max_length=16)
    # The clerk who recorded it; None when the applicant rated.
    recorded_by: str | None = Field(default=None, max_length=200)
    created_at: dt.datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    updated_at: dt.datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)


class RatingChange(SQLModel, table=True):
    """One version of a rating, the first included: nothing an applicant said is overwritten."""

    __tablename__ = "rating_change"

    id: int | None = Field(default=None, primary_key=True)
    rating_id: int = Field(foreign_key="rating.id", index=True)
    level: int
    tags: list[str] = Field(default_factory=list, sa_column=_json())
    comment: str | None = Field(default=None, sa_column=Column(Text))
    channel: str = Field(max_length=16)
    recorded_by: str | None = Field(default=None, max_length=200)
    at: dt.datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)


RECTIFICATION_STATUSES = ("open", "replied", "closed")
RECTIFICATION_OPEN = "status != 'closed'"


class Rectification(SQLModel, table=True):
    """The follow-up of a bad rating (差评整改): verified, fixed, answered, called back, closed."""

    __tablename__ = "rectification"
    __table_args__ = (
        # A department's list, and its overdue ones (open, due before today).
        Index("ix_rectification_department_status_due", "department_code", "status",
              "due_date"),
        Index("ix_rectification_opened_at", "opened_at"),
        # One rectification not closed per rating: two bad ratings (or a rating and its
        # change) stored at once cannot both open one, whatever order they write in.
        Index("uq_rectification_open_rating", "rating_id", unique=True,
              sqlite_where=sql_text(RECTIFICATION_OPEN),
              postgresql_where=sql_text(RECTIFICATION_OPEN)),
        # The statistics' summary finds the rectifications changed since its last refresh.
        Index("ix_rectification_updated", "updated_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    rating_id: int = Field(foreign_key="rating.id", index=True)
    submission_id: int = Field(foreign_key="submission.id", index=True)
    department_code: str = Field(max_length=100)
    matter_code: str | None = Field(default=None, max_length=100)
    bundle_code: str = Field(max_length=100)
    # The level that opened it.
    level: int
    status: str = Field(default="open", max_length=16)  # one of RECTIFICATION_STATUSES
    opened_at: dt.datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    # In working days from the day it opened (RECTIFICATION_DAYS), China's calendar.
    due_date: dt.date
    due_estimated: bool = False
    # What staff found (核实), what they changed (整改) and their answer to the applicant.
    verified: str | None = Field(default=None, sa_column=Column(Text))
    fix: str | None = Field(default=None, sa_column=Column(Text))
    reply: str | None = Field(default=None, sa_column=Column(Text))
    replied_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    replied_by: str | None = Field(default=None, max_length=200)
    # The call-back (回访): its result (see cases.ratings.CALLBACK_RESULTS) and a note.
    callback_result: str | None = Field(default=None, max_length=32)
    callback_note: str | None = Field(default=None, sa_column=Column(Text))
    called_back_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    called_back_by: str | None = Field(default=None, max_length=200)
    closed_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_by: str | None = Field(default=None, max_length=200)
    # Set on creation and by every UPDATE of the row: the statistics' summary
    # re-summarises the day it opened.
    updated_at: dt.datetime = Field(default_factory=utc_now, sa_type=UTCDateTime,
                                    sa_column_kwargs={"onupdate": utc_now})


# --- the statistics' daily summary (cases/summary.py) -------------------------------------------

# The summary's days_taken for tasks not decided with their days (days_taken NULL): a
# primary key's column cannot be NULL.
NOT_TIMED = -1


class StatsTaskDay(SQLModel, table=True):
    """The tasks created on one China day, by bundle, matter, department and days taken."""

    __tablename__ = "stats_task_day"

    day: dt.date = Field(primary_key=True)
    bundle_code: str = Field(primary_key=True, max_length=100)
    matter_code: str = Field(primary_key=True, max_length=100)
    department_code: str = Field(primary_key=True, max_length=100)
    # Whole days, or NOT_TIMED: the buckets of the 90th percentile's running counts.
    days_taken: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    received: int
    completed: int
    refused: int
    in_progress: int
    on_time: int
    promised_sum: int
    corrected: int


class StatsRatingDay(SQLModel, table=True):
    """The ratings given on one China day, by bundle, matter ("" for a case), department, level."""

    __tablename__ = "stats_rating_day"

    day: dt.date = Field(primary_key=True)
    bundle_code: str = Field(primary_key=True, max_length=100)
    matter_code: str = Field(primary_key=True, max_length=100)
    department_code: str = Field(primary_key=True, max_length=100)
    level: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    ratings: int


class StatsTaskMonth(SQLModel, table=True):
    """stats_task_day summed by month (`month`: its first day): what a whole month reads."""

    __tablename__ = "stats_task_month"

    month: dt.date = Field(primary_key=True)
    bundle_code: str = Field(primary_key=True, max_length=100)
    matter_code: str = Field(primary_key=True, max_length=100)
    department_code: str = Field(primary_key=True, max_length=100)
    days_taken: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    received: int
    completed: int
    refused: int
    in_progress: int
    on_time: int
    promised_sum: int
    corrected: int


class StatsRatingMonth(SQLModel, table=True):
    """stats_rating_day summed by month (`month`: its first day)."""

    __tablename__ = "stats_rating_month"

    month: dt.date = Field(primary_key=True)
    bundle_code: str = Field(primary_key=True, max_length=100)
    matter_code: str = Field(primary_key=True, max_length=100)
    department_code: str = Field(primary_key=True, max_length=100)
    level: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    ratings: int


class StatsRectificationDay(SQLModel, table=True):
    """The rectifications opened on one China day: how many, closed, working days to close."""

    __tablename__ = "stats_rectification_day"

    day: dt.date = Field(primary_key=True)
    bundle_code: str = Field(primary_key=True, max_length=100)
    matter_code: str = Field(primary_key=True, max_length=100)
    department_code: str = Field(primary_key=True, max_length=100)
    opened: int
    closed: int
    closed_days: int


class StatsCaseDay(SQLModel, table=True):
    """The cases submitted on one China day, by bundle, and their realised savings.

    department_code "" counts every case; a department's rows count the cases having a
    task of that department (the department filter's cases).
    """

    __tablename__ = "stats_case_day"

    day: dt.date = Field(primary_key=True)
    bundle_code: str = Field(primary_key=True, max_length=100)
    department_code: str = Field(primary_key=True, max_length=100)
    cases: int
    saved_forms: int
    saved_fields: int
    saved_materials: int
    saved_visits: int
    saved_days: int


class StatsSummaryState(SQLModel, table=True):
    """The summary's one watermark row: what its last refresh saw (and the lock refreshes take)."""

    __tablename__ = "stats_summary_state"

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    # When the last refresh began; None: summarise every day at the next one.
    refreshed_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    # When a refresh last summarised every day (the periodic backstop); None: never.
    summarised_all_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Per source table, the greatest id seen and how many rows the lag window held
    # (cases/summary.py); and the holiday calendar the rectifications' days were counted on.
    marks: dict = Field(default_factory=dict, sa_column=_json())
    calendar: str = Field(default="", max_length=64)


# --- the holiday calendar administrators keep --------------------------------------------------


class HolidayYear(SQLModel, table=True):
    """A year of the State Council's holiday notice, as an administrator entered it."""

    __tablename__ = "holiday_year"

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    entered_by: str = Field(max_length=200)
    entered_at: dt.datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)


class HolidayDay(SQLModel, table=True):
    """A day the notice names: a holiday (not working) or a 调休 working day."""

    __tablename__ = "holiday_day"

    day: dt.date = Field(primary_key=True)
    year: int = Field(foreign_key="holiday_year.year", index=True)
    working: bool
    name: str | None = Field(default=None, max_length=100)


# --- API tokens of departments' systems ------------------------------------------------------


class ApiToken(SQLModel, table=True):
    """A bearer token of one department's business system; only its SHA-256 is kept."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    department_code: str = Field(max_length=100, index=True)
    name: str = Field(max_length=200)
    token_hash: str = Field(max_length=SHA256_HEX_LENGTH, unique=True, index=True)
    created_at: dt.datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    expires_at: dt.datetime = Field(sa_type=UTCDateTime)
    revoked: bool = False


class ApiDecision(SQLModel, table=True):
    """A decision posted through the API, by its idempotency key: a retry gets the same answer."""

    __tablename__ = "api_decision"
    __table_args__ = (UniqueConstraint("department_code", "idempotency_key",
                                       name="uq_api_decision_key"),)

    id: int | None = Field(default=None, primary_key=True)
    department_code: str = Field(max_length=100)
    idempotency_key: str = Field(max_length=200)
    task_id: int = Field(foreign_key="task.id")
    request: dict = Field(sa_column=_json())
    status_code: int
    response: dict = Field(sa_column=_json())


# --- webhooks ---------------------------------------------------------------------------------


class Webhook(SQLModel, table=True):
    """Where a department's system wants events, and the secret their signatures use."""

    __tablename__ = "webhook"

    id: int | None = Field(default=None, primary_key=True)
    department_code: str = Field(max_length=100, unique=True)
    url: str = Field(max_length=1000)
    # Kept as is: signing needs the secret itself, not a hash of it. "whsec_" and the key in
    # base64, as Standard Webhooks' libraries take it.
    secret: str = Field(max_length=200)
    active: bool = True
    # Set before Standard Webhooks signatures (migration 0014): its receiver checks the old
    # X-OneThing-Signature, still sent beside them until the department gets a new secret.
    legacy_signature: bool = False
    # The deliverer whose turn this endpoint is, until when: a lease, so the events of one
    # endpoint go out one after another from one deliverer, and a deliverer that died
    # mid-turn holds them no longer than the lease. Unclaimed, claimed_until is when the
    # endpoint was last served, or, after a failed attempt, when it may be tried again.
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_until: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


# An event still to deliver: neither delivered nor given up on.
OUTBOX_PENDING = "delivered_at IS NULL AND failed_at IS NULL"


class OutboxEvent(SQLModel, table=True):
    """An event for a department's system, written in the transaction of what it reports."""

    __tablename__ = "outbox_event"
    __table_args__ = (
        # A deliverer's next events of one endpoint: only the pending rows are indexed, so
        # the index stays as small as the queue however long the history grows.
        Index("ix_outbox_event_due", "department_code", "next_attempt_at", "id",
              sqlite_where=sql_text(OUTBOX_PENDING), postgresql_where=sql_text(OUTBOX_PENDING)),
        # The console's failed deliveries of one department.
        Index("ix_outbox_event_failed", "department_code", "id",
              sqlite_where=sql_text("failed_at IS NOT NULL"),
              postgresql_where=sql_text("failed_at IS NOT NULL")),
    )

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: str = Field(max_length=64, unique=True)
    department_code: str = Field(max_length=100, index=True)
    event: str = Field(max_length=50)
    payload: dict = Field(sa_column=_json())
    created_at: dt.datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    attempts: int = 0
    next_attempt_at: dt.datetime = Field(default_factory=utc_now, sa_type=UTCDateTime,
                                         index=True)
    delivered_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, max_length=500)
    # Given up on: the retry window passed without a 2xx. An administrator can redeliver it.
    failed_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The last redelivery, from which the retry window runs again (else from created_at).
    redelivered_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    # What makes an event happen once however many workers look (e.g. "task.overdue:42"):
    # a second insert of the key is refused by the database. None for ordinary events.
    dedupe_key: str | None = Field(default=None, max_length=100, unique=True, index=True)


# --- the audit log ----------------------------------------------------------------------------


class Licence(SQLModel, table=True):
    """An electronic licence (电子证照) of the registry, with GB/T 36903's metadata."""

    __tablename__ = "licence"
    __table_args__ = (UniqueConstraint("type_code", "number", name="uq_licence_type_number"),
                      Index("ix_licence_holder", "holder_code", "type_code"))

    id: int | None = Field(default=None, primary_key=True)
    type_code: str = Field(max_length=64)  # 证照类型代码
    number: str = Field(max_length=100)  # 证照编号
    holder_code: str = Field(max_length=32)  # 持证主体代码: a credit code or an ID number
    holder_name: str = Field(max_length=200)  # 持证主体
    issuer: str = Field(max_length=200)  # 发证机构
    issued_on: dt.date  # 发证日期
    expires_on: dt.date | None = None  # 有效期截止; None: long-term (长期)
    data: dict = Field(default_factory=dict, sa_column=_json())  # 照面信息
    # The licence's file (版式文件) in the stored files, if any.
    file: str | None = Field(default=None, max_length=SHA256_HEX_LENGTH)
    trust: str = Field(default="A", max_length=1)
    # "onething" (issued through a case here, with its task) or "import".
    source: str = Field(max_length=20)
    task_id: int | None = Field(default=None)
    revoked: bool = False
    created_at: dt.datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)


class AuditEntry(SQLModel, table=True):
    """One action, appended and never changed: who, when, what, and the state before and after."""

    __tablename__ = "audit_entry"

    id: int | None = Field(default=None, primary_key=True)
    # Indexed for the console's audit viewer, which filters by person and by date.
    at: dt.datetime = Field(default_factory=utc_now, sa_type=UTCDateTime, index=True)
    # A username, or "system" for what follows from it.
    actor: str = Field(max_length=200, index=True)
    action: str = Field(max_length=50)
    subject: str = Field(max_length=100, index=True)  # e.g. "task:42"
    before: dict | None = Field(default=None, sa_column=_json(nullable=True))
    after: dict | None = Field(default=None, sa_column=_json(nullable=True))


class TaskPublic(TaskBase):
    """A task as an API shows it."""

    id: int
    submission_id: int


# --- 一业一证: comprehensive licences, revoked permits ---------------------------------------


class IndustryLicence(SQLModel, table=True):
    """一证准营: the comprehensive licence a 一业一证 case gets once all matters are approved."""

    __tablename__ = "industry_licence"

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=64, unique=True, index=True)
    # The public verification link's secret (QR code, PDF): numbers run in sequence, and
    # anyone could count through them.
    token: str = Field(default_factory=lambda: secrets.token_urlsafe(32), max_length=64,
                       unique=True, index=True)
    # Issued before the token (migration 0029): its paper carries a link by number, which
    # redirects to the token's page. Newer licences are never found by number.
    number_link: bool = False
    submission_id: int = Field(foreign_key="submission.id", unique=True)
    bundle_code: str = Field(max_length=100)
    # The licence as issued, frozen: name, industry, issuer, holder (the entity's name only).
    name: Any = Field(sa_column=_json())
    industry: Any = Field(sa_column=_json())
    issuer: Any = Field(sa_column=_json())
    holder: str = Field(max_length=200)
    issued_at: dt.datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    valid_until: dt.date


class LicenceSequence(SQLModel, table=True):
    """The running number of an industry's licences in a year."""

    __tablename__ = "licence_sequence"

    bundle_code: str = Field(max_length=100, primary_key=True)
    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    last: int = 0


class PermitRevocation(SQLModel, table=True):
    """A department's permit (an approved task) revoked, with the reason: it stays recorded."""

    __tablename__ = "permit_revocation"

    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="task.id", unique=True)
    reason: str = Field(max_length=2000)
    revoked_by: str = Field(max_length=200)
    revoked_at: dt.datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)


# --- 一同核查: one joint on-site inspection ----------------------------------------------------


class JointInspection(SQLModel, table=True):
    """The on-site inspection a case's departments carry out together, as scheduled."""

    __tablename__ = "joint_inspection"

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submission.id", unique=True)
    # Which departments inspect: those of the case's matters the bundle names.
    departments: list[str] = Field(sa_column=_json())
    scheduled_for: dt.datetime = Field(sa_type=UTCDateTime)
    place: str = Field(max_length=200)
    scheduled_by: str = Field(max_length=200)
    scheduled_at: dt.datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)


class InspectionFinding(SQLModel, table=True):
    """One department's own findings at the joint inspection: pass or fail, with notes."""

    __tablename__ = "inspection_finding"
    __table_args__ = (UniqueConstraint("inspection_id", "department_code",
                                       name="uq_inspection_finding_department"),)

    id: int | None = Field(default=None, primary_key=True)
    inspection_id: int = Field(foreign_key="joint_inspection.id", index=True)
    department_code: str = Field(max_length=100)
    passed: bool
    notes: str = Field(default="", max_length=2000)
    recorded_by: str = Field(max_length=200)
    recorded_at: dt.datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)


# --- rules: 秒批 settings and 免申即享 offers -----------------------------------------------------


class MatterSetting(SQLModel, table=True):
    """A department's settings of one of its matters: whether 秒批 applies (on by default)."""

    __tablename__ = "matter_setting"

    matter_code: str = Field(max_length=64, primary_key=True)
    instant_approval: bool = True
    updated_by: str = Field(max_length=200)
    updated_at: dt.datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)


OFFER_STATUSES = ("offered", "confirmed", "objected")


class BenefitOffer(SQLModel, table=True):
    """免申即享: a benefit offered to a holder its eligibility rules found, until they confirm
    it with one click or object; once per holder and matter, however often the run is."""

    __tablename__ = "benefit_offer"
    __table_args__ = (UniqueConstraint("matter_code", "holder_code",
                                       name="uq_benefit_offer_holder"),)

    id: int | None = Field(default=None, primary_key=True)
    # What the signed link carries: random, so a link reveals nothing and guesses nothing.
    public_id: str = Field(max_length=64, unique=True, index=True)
    matter_code: str = Field(max_length=64, index=True)
    holder_code: str = Field(max_length=32, index=True)
    holder_name: str = Field(max_length=200)
    status: str = Field(default="offered", max_length=20)
    # The rules that found the holder eligible: each rule, and the values it read with
    # their source and trust.
    evidence: list = Field(default_factory=list, sa_column=_json())
    offered_at: dt.datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    expires_on: dt.date
    decided_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    objection: str | None = Field(default=None, max_length=2000)
    # The case its confirmation became.
    submission_id: int | None = Field(default=None, foreign_key="submission.id")
