"""The `onething` command: check, compose and build definitions, manage the catalog, serve."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sys
from pathlib import Path

import click

from onething.catalog.problems import DefinitionError
from onething.catalog.text import LOCALES, localize
from onething.catalog.workdays import CALENDAR_DAYS

# Exit status for definitions that were refused (click uses 2 for usage errors too:
# both mean "what you gave me is wrong", neither is a crash).
EXIT_DEFINITIONS = 2

schemas_option = click.option(
    "--schemas", "schemas", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="The schemas folder to read (default: $ONETHING_SCHEMAS or the repository's schemas/).",
)
lang_option = click.option("--lang", type=click.Choice(LOCALES), default="zh-Hans",
                           show_default=True, help="Language of the human-readable output.")


def _load(schemas: Path | None):
    from onething.catalog.loader import default_root
    from onething.publishing.check import load_catalog

    root = schemas or default_root()
    try:
        return load_catalog(root), root
    except DefinitionError as error:
        report(error.problems, root)
        sys.exit(EXIT_DEFINITIONS)


def report(problems, root: Path | None = None) -> None:
    """Print every problem, one per line, then how many; with the schemas folder read
    (`root`), each file as the shell that ran the command would open it."""
    for problem in problems:
        click.echo(str(_from_here(problem, root)), err=True)
    click.echo(f"{len(problems)} problem(s) found.", err=True)


def _from_here(problem, root: Path | None):
    # A problem names its file from the schemas folder's parent (schemas/catalog/…): from
    # elsewhere, or with another folder checked, that names another file, or none.
    if root is None:
        return problem
    found = Path(root).resolve().parent / problem.file
    if not found.exists():
        return problem
    shown = os.path.relpath(found)
    return dataclasses.replace(problem, file=shown if not shown.startswith("..") else str(found))


@click.group()
@click.version_option(package_name="onething")
def main() -> None:
    """OneThing: one form, one set of materials, one window for 高效办成一件事."""


@main.command()
@schemas_option
def check(schemas: Path | None) -> None:
    """Validate every definition; print each problem with its file and JSON pointer."""
    catalog, root = _load(schemas)
    counts = (f"{len(catalog.departments)} departments, {len(catalog.fields)} fields, "
              f"{len(catalog.matters)} matters, {len(catalog.bundles)} bundles")
    click.echo(f"{root}: OK ({counts})")


@main.command(name="compose")
@click.argument("bundle")
@click.option("--answers", default=None, help="Scenario answers as a JSON object.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole composition as JSON.")
@schemas_option
@lang_option
def compose_command(bundle: str, answers: str | None, as_json: bool, schemas, lang) -> None:
    """Show one bundle's merged form, materials, routing plan and savings."""
    from onething.composer.compose import AnswersError, compose

    catalog, _ = _load(schemas)
    if bundle not in catalog.bundles:
        known = ", ".join(sorted(catalog.bundles))
        raise click.BadParameter(f"unknown bundle {bundle!r}; known: {known}",
                                 param_hint="BUNDLE")
    try:
        parsed = json.loads(answers) if answers is not None else None
    except json.JSONDecodeError as error:
        raise click.BadParameter(f"not JSON: {error}", param_hint="--answers") from None
    if parsed is not None and not isinstance(parsed, dict):
        raise click.BadParameter("answers must be a JSON object", param_hint="--answers")
    try:
        composition = compose(catalog.bundles[bundle], parsed)
    except AnswersError as error:
        for item in error.errors:
            click.echo(f"answers{item.json_path[1:]}: {_answer_message(item)}", err=True)
        sys.exit(EXIT_DEFINITIONS)
    if as_json:
        click.echo(json.dumps(composition.as_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(describe(composition, catalog, lang))


def describe(composition, catalog, lang: str) -> str:
    """Render a composition for people: sections and fields, materials, plan, savings."""
    def name(definitions, code):
        item = definitions.get(code)
        return localize(item.name, lang) if item else code

    bundle, savings, plan = composition.bundle, composition.savings, composition.plan
    lines = [f"{localize(bundle.name, lang)} ({bundle.code}, version {composition.version})"]
    if composition.answers is None:
        lines.append("Every scenario (narrow it with --answers).")
    else:
        lines.append(f"Answers: {json.dumps(composition.answers, ensure_ascii=False)}")
    lines.append("Matters: " + ", ".join(
        f"{localize(m.name, lang)} [{m.code}]" + (" (if …)" if composition.conditions[m.code]
                                                  else "")
        for m in composition.matters))
    lines += ["", f"ONE FORM: {savings.fields.after_text} fields "
              f"(the separate forms asked {savings.fields.before_text})"]
    marks = {"always": "*", "conditional": "?", "optional": " ", "produced": "→"}
    for section in composition.layout["sections"]:
        lines.append(f"  {localize(section['title'], lang)}")
        for entry in section["fields"]:
            needed = ", ".join(entry["needed_by"])
            lines.append(f"    {marks[entry['required']]} {localize(entry['title'], lang)} "
                         f"[{entry['path']}, {entry['widget']}] ← {needed}")
    lines.append("  (* required, ? required in some scenarios, → handed over by the matter "
                 "that yields it)")
    lines += ["", f"ONE SET OF MATERIALS: {savings.materials.after_text} to hand over "
              f"(separately: {savings.materials.before_text})"]
    for material in composition.materials:
        flags = [material.necessity]
        if material.commitment:
            flags.append("commitment may replace it (告知承诺)")
        if material.shared_data:
            flags.append("shared data, no upload (电子证照)")
        if material.generated:
            flags.append("generated from the one form, no upload")
        if material.condition is not None:
            flags.append("in some scenarios")
        lines.append(f"    - {localize(material.name, lang)} [{material.id}] "
                     f"({'; '.join(flags)}) ← {', '.join(material.matters)}")
    lines += ["", f"ROUTING PLAN: lead {name(catalog.departments, plan.lead_department)}"]
    for step in plan.steps:
        after = f", after {', '.join(step.waits_for)}" if step.waits_for else ", in parallel"
        counted = "calendar" if step.counting == CALENDAR_DAYS else "working"
        lines.append(f"    {step.matter} → {name(catalog.departments, step.department)}: "
                     f"{_days(step.promised_days, counted)}{after}; slice: "
                     f"{len(step.slice.fields)} fields, {len(step.slice.materials)} materials")
    lines.append(f"    critical path: {' → '.join(plan.critical_path) or '-'} = "
                 f"{_days(plan.critical_path_days, 'working')} (one after another: "
                 f"{plan.serial_days})")
    lines += ["", "SAVINGS (before → after)"]
    for label, figure in (("forms", savings.forms), ("fields", savings.fields),
                          ("materials", savings.materials), ("visits", savings.visits),
                          ("working days", savings.days)):
        lines.append(f"    {label:<13} {figure.before_text:>5} → {figure.after_text:<5} "
                     f"(-{figure.percent}%)")
    lines.append(f"    departments   {savings.departments} behind one window")
    return "\n".join(lines)


def _answer_message(error) -> str:
    """A questionnaire's refusal, with the answers a choice takes (its oneOf of consts)."""
    choices = [option["const"] for option in error.schema.get("oneOf", [])
               if isinstance(option, dict) and "const" in option] \
        if isinstance(error.schema, dict) else []
    if error.validator == "oneOf" and choices:
        return (f"{json.dumps(error.instance, ensure_ascii=False)} is not one of: "
                + ", ".join(json.dumps(c, ensure_ascii=False) for c in choices))
    return error.message


def _days(count: int, counted: str) -> str:
    return f"{count} {counted} day{'' if count == 1 else 's'}"


@main.command()
@click.option("--check", "check_only", is_flag=True,
              help="Write nothing; exit 1 and name the stale files if generated/ is out of date.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder (default: generated/ beside the schemas folder).")
@schemas_option
def build(check_only: bool, out: Path | None, schemas: Path | None) -> None:
    """Compile schemas/ into generated/<bundle>/ (form schema, layout, routing, savings)."""
    from onething.publishing import build as builder

    catalog, root = _load(schemas)
    out = out or root.resolve().parent / "generated"
    files = builder.render(catalog)
    if check_only:
        stale = builder.stale_files(files, out)
        if stale:
            for name in stale:
                click.echo(f"stale: {out.name}/{name}", err=True)
            click.echo("generated/ is out of date: run `onething build`.", err=True)
            sys.exit(1)
        click.echo(f"{out}: up to date ({len(files)} files)")
        return
    builder.write(files, out)
    click.echo(f"{out}: wrote {len(files)} files")


@main.command(name="diff")
@click.argument("old", type=click.Path(file_okay=False, path_type=Path))
@click.argument("new", type=click.Path(file_okay=False, path_type=Path))
@click.argument("bundles", nargs=-1)
@click.option("--answers", default=None, help="Compare the compositions for these answers.")
@click.option("--json", "as_json", is_flag=True, help="Print the changes as JSON.")
def diff_command(old: Path, new: Path, bundles: tuple[str, ...], answers: str | None,
                 as_json: bool) -> None:
    """Show what changes for applicants and departments between two schemas folders."""
    from onething.composer.compose import compose
    from onething.publishing.check import load_catalog
    from onething.publishing.diff import describe, diff_compositions

    catalogs = []
    for root in (old, new):
        try:
            catalogs.append(load_catalog(root))
        except DefinitionError as error:
            report(error.problems, root)
            sys.exit(EXIT_DEFINITIONS)
    before, after = catalogs
    parsed = json.loads(answers) if answers else None
    codes = bundles or sorted(set(before.bundles) | set(after.bundles))
    result = {}
    for code in codes:
        if code not in before.bundles or code not in after.bundles:
            result[code] = "added" if code in after.bundles else "removed"
            continue
        result[code] = diff_compositions(compose(before.bundles[code], parsed),
                                         compose(after.bundles[code], parsed))
    if as_json:
        click.echo(json.dumps({code: (d if isinstance(d, str) else d.as_dict())
                               for code, d in result.items()}, ensure_ascii=False, indent=2))
        return
    for code, changes in result.items():
        text = changes if isinstance(changes, str) else describe(changes)
        click.echo(f"== {code}\n{text}")


@main.group()
def catalog() -> None:
    """The working catalog in the database: export, import (checked, all or nothing), publish."""


def _require_department(session, code: str) -> None:
    """Exit with a message unless the working catalog defines this department."""
    from onething.publishing.working_catalog import find_entry

    if find_entry(session, "department", code) is None:
        import difflib

        from onething.publishing.working_catalog import entries

        known = [entry.code for entry in entries(session, "department")]
        close = difflib.get_close_matches(code, known, n=3)
        click.echo(f"unknown department {code!r}"
                   + (f"; did you mean {', '.join(close)}?" if close else
                      f"; the catalog has {len(known)} departments"), err=True)
        sys.exit(EXIT_DEFINITIONS)


def _database(app) -> str:
    """The database a command works on, as printed (never its password)."""
    from sqlalchemy.engine import make_url

    return make_url(app.config["DATABASE_URL"]).render_as_string(hide_password=True)


def _log_to_journal() -> None:
    """Log as `serve` and `worker` do: when and which part, for the journal (migrations on
    a first start, a webhook's failed attempt, the server's own notices)."""
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # set-up chatter


def _configured_app():
    """The app as configured, or exit with one line: a broken catalog's problems, or why
    the database cannot be used (a service manager's journal then says so at the top)."""
    from sqlalchemy.exc import DBAPIError

    from onething.web.app import create_app
    from onething.web.settings import SettingsError

    try:
        return create_app()
    except DefinitionError as error:
        report(error.problems)
        sys.exit(EXIT_DEFINITIONS)
    except SettingsError as error:
        raise click.ClickException("settings that cannot be used:\n  "
                                   + "\n  ".join(error.problems)) from None
    except DBAPIError as error:
        # The driver's own words name the server, the database or the file; one line of
        # them, not the traceback through the migrations.
        reason = " ".join(str(error.orig or error).split())
        raise click.ClickException(f"cannot use the database: {reason}") from None


@contextlib.contextmanager
def _app_session():
    """The configured app and a database session (migrating and seeding it if it is new).

    The engine is closed on the way out: a command leaves no connection behind.
    """
    from sqlmodel import Session

    app = _configured_app()
    engine = app.extensions["onething.engine"]
    try:
        with Session(engine) as session:
            yield app, session
    finally:
        engine.dispose()


@catalog.command(name="export")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
def catalog_export(out: Path) -> None:
    """Write the working catalog as a schemas folder, the exact files that were imported."""
    from onething.publishing.working_catalog import export
    from onething.web.settings import schemas_root

    with _app_session() as (app, session):
        written = export(session, out, schemas_root(app))
    click.echo(f"{out}: wrote {written} files")


@catalog.command(name="import")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check and show what would change; change nothing.")
@click.option("--publish", is_flag=True, help="Publish the changed bundles after importing.")
@click.option("--by", default="onething catalog import", show_default=True,
              help="Who is importing, for the history.")
def catalog_import(source: Path, dry_run: bool, publish: bool, by: str) -> None:
    """Replace the working catalog with a schemas folder or zip: nothing if any file fails."""
    from onething.catalog.loader import read_meta
    from onething.publishing.versions import publish_catalog
    from onething.publishing.working_catalog import (
        apply_import,
        documents,
        import_folder,
        plan_import,
    )
    from onething.web.settings import schemas_root

    with _app_session() as (app, session):
        try:
            with import_folder(source) as root:
                plan = plan_import(session, root, read_meta(schemas_root(app)))
                click.echo(plan.summary())
                if plan.refused:
                    report(plan.problems)
                    click.echo("Refused: nothing was imported.", err=True)
                    sys.exit(EXIT_DEFINITIONS)
                if dry_run:
                    click.echo("Dry run: nothing was changed.")
                    return
                apply_import(session, plan, imported_by=by)
        except DefinitionError as error:
            report(error.problems)
            sys.exit(EXIT_DEFINITIONS)
        click.echo("Imported.")
        if publish:
            from onething.catalog.definitions import Catalog

            versions = publish_catalog(session, Catalog(documents(session)), published_by=by)
            for version in versions:
                click.echo(f"published {version.bundle_code} v{version.number}")


@catalog.command(name="publish")
@click.argument("codes", nargs=-1)
@click.option("--by", default="onething catalog publish", show_default=True,
              help="Who is publishing, for the history.")
def catalog_publish(codes: tuple[str, ...], by: str) -> None:
    """Publish the bundles named (each checked with all it holds), or every changed one.

    With no CODES the whole working catalog is checked and every bundle whose definitions
    changed since it was last published is published; a rolled-back bundle stays rolled
    back until its definitions change. Named bundles are published whenever they differ
    from what applicants see, and no other is.
    """
    from onething.catalog.loader import read_meta
    from onething.publishing.working_catalog import publish_services, publish_working
    from onething.web.settings import schemas_root

    with _app_session() as (app, session):
        metas = read_meta(schemas_root(app))
        try:
            versions = (publish_services(session, list(codes), metas, published_by=by) if codes
                        else publish_working(session, metas, published_by=by))
        except DefinitionError as error:
            report(error.problems)
            click.echo("Refused: nothing was published.", err=True)
            sys.exit(EXIT_DEFINITIONS)
        for version in versions:
            click.echo(f"published {version.bundle_code} v{version.number}")
    if not versions:
        click.echo("Nothing changed since the last publish.")


@main.group()
def user() -> None:
    """Accounts of administrators, department staff and the front desk."""


@user.command(name="add")
@click.argument("username")
@click.option("--role", type=click.Choice(["administrator", "department_staff", "front_desk"]),
              required=True, help="What the account may do.")
@click.option("--department", default=None, help="The department of department staff.")
@click.option("--name", "display_name", default=None, help="The name shown (default: username).")
@click.option("--password", default=None,
              help="At least 10 characters (asked for when not given: a password given here "
                   "stays in the shell's history).")
@click.option("--by", default="onething user add", show_default=True,
              help="Who is making the change, for the audit log.")
def user_add(username: str, role: str, department: str | None, display_name: str | None,
             password: str | None, by: str) -> None:
    """Create an account (the password is stored only as a hash)."""
    from onething.accounts.service import AccountRefused, create_account
    from onething.storage.models import AccountCreate

    with _app_session() as (app, session):
        if department is not None:
            _require_department(session, department)
        # Asked once the rest is known good: a mistyped department is said first. No
        # transaction is held open while a person types.
        if password is None:
            session.rollback()
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        try:
            account = create_account(session, AccountCreate(
                username=username, display_name=display_name or username, role=role,
                department_code=department, password=password), actor=by)
        except AccountRefused as refused:
            click.echo(str(refused), err=True)
            sys.exit(EXIT_DEFINITIONS)
        # Inside the session: the commit expired the account, and a closed session could
        # not load its attributes again (DetachedInstanceError after the account was made).
        # Which database: a shell without the service's environment writes to the
        # instance folder's SQLite file, not the hall's PostgreSQL.
        click.echo(f"created {account.role} {account.username} (database: {_database(app)})")


def _account(session, username: str):
    """The account named, else exit with a message."""
    from onething.accounts.service import find_account

    account = find_account(session, username)
    if account is None:
        click.echo(f"no account {username!r}", err=True)
        sys.exit(EXIT_DEFINITIONS)
    return account


def _by(default: str):
    return click.option("--by", default=default, show_default=True,
                        help="Who is making the change, for the audit log.")


@user.command(name="list")
def user_list() -> None:
    """List the accounts: username, role, department, enabled or disabled, name."""
    from onething.accounts.service import accounts_statement

    with _app_session() as (_app, session):
        for account in session.exec(accounts_statement()).all():
            click.echo(f"{account.username}\t{account.role}\t{account.department_code or '-'}\t"
                       f"{'disabled' if account.disabled else 'enabled'}\t"
                       f"{account.display_name}")


def _change_account(username: str, change) -> None:
    from onething.accounts.service import AccountRefused

    with _app_session() as (_app, session):
        account = _account(session, username)
        try:
            click.echo(change(session, account))
        except AccountRefused as refused:
            click.echo(str(refused), err=True)
            sys.exit(EXIT_DEFINITIONS)


@user.command(name="disable")
@click.argument("username")
@_by("onething user disable")
def user_disable(username: str, by: str) -> None:
    """Disable an account: it is signed out at its next request and cannot sign in."""
    from onething.accounts.service import set_disabled

    _change_account(username, lambda session, account: (
        f"disabled {username}" if set_disabled(session, account, True, by)
        else f"{username} was disabled already"))


@user.command(name="enable")
@click.argument("username")
@_by("onething user enable")
def user_enable(username: str, by: str) -> None:
    """Enable a disabled account again."""
    from onething.accounts.service import set_disabled

    _change_account(username, lambda session, account: (
        f"enabled {username}" if set_disabled(session, account, False, by)
        else f"{username} was enabled already"))


@user.command(name="password")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="At least 10 characters (asked for when not given).")
@_by("onething user password")
def user_password(username: str, password: str, by: str) -> None:
    """Reset an account's password (the audit log records that, never the password)."""
    from onething.accounts.service import set_password

    def change(session, account):
        set_password(session, account, password, by)
        return f"new password for {username}"

    _change_account(username, change)


@user.command(name="role")
@click.argument("username")
@click.argument("role", type=click.Choice(["administrator", "department_staff", "front_desk"]))
@click.option("--department", default=None, help="The department, for department staff.")
@_by("onething user role")
def user_role(username: str, role: str, department: str | None, by: str) -> None:
    """Change an account's role (and department, for department staff)."""
    from onething.accounts.service import set_role

    _change_account(username, lambda session, account: (
        f"{username} is now {role}" + (f" of {department}" if department else "")
        if set_role(session, account, role, department, by) else f"{username} is unchanged"))


@main.group()
def webhook() -> None:
    """Webhooks of departments' systems."""


@webhook.command(name="set")
@click.argument("department")
@click.argument("url")
@_by("onething webhook set")
def webhook_set(department: str, url: str, by: str) -> None:
    """Send a department's events to URL; print the new signing secret (shown only once)."""
    from onething.departments.webhooks import set_webhook, url_problem

    problem = url_problem(url)
    if problem:
        click.echo(problem, err=True)
        sys.exit(EXIT_DEFINITIONS)
    with _app_session() as (_app, session):
        _require_department(session, department)
        click.echo(set_webhook(session, department, url, actor=by))


def _webhook(session, department: str):
    """A department's webhook, else exit with a message."""
    from onething.departments.webhooks import find_webhook

    _require_department(session, department)
    hook = find_webhook(session, department)
    if hook is None:
        click.echo(f"{department} has no webhook: onething webhook set {department} URL",
                   err=True)
        sys.exit(EXIT_DEFINITIONS)
    return hook


@webhook.command(name="disable")
@click.argument("department")
@_by("onething webhook disable")
def webhook_disable(department: str, by: str) -> None:
    """Stop sending a department's events; they wait in the outbox until it is enabled."""
    from onething.departments.webhooks import set_active

    with _app_session() as (_app, session):
        changed = set_active(session, _webhook(session, department), False, by)
    click.echo(f"disabled {department}" if changed else f"{department} was disabled already")


@webhook.command(name="enable")
@click.argument("department")
@_by("onething webhook enable")
def webhook_enable(department: str, by: str) -> None:
    """Send a department's events again, the waiting ones first."""
    from onething.departments.webhooks import set_active

    with _app_session() as (_app, session):
        changed = set_active(session, _webhook(session, department), True, by)
    click.echo(f"enabled {department}" if changed else f"{department} was enabled already")


@webhook.command(name="rotate")
@click.argument("department")
@_by("onething webhook rotate")
def webhook_rotate(department: str, by: str) -> None:
    """Give a department's webhook a new signing secret and print it (shown only once)."""
    from onething.departments.webhooks import rotate_secret

    with _app_session() as (_app, session):
        click.echo(rotate_secret(session, _webhook(session, department), by))


@webhook.command(name="deliver")
def webhook_deliver() -> None:
    """Deliver the due webhook events once."""
    from onething.departments.webhooks import deliver_due

    with _app_session() as (app, session):
        delivered = deliver_due(session, threads=int(app.config["WEBHOOK_THREADS"]),
                                timeout=float(app.config["WEBHOOK_TIMEOUT"]))
        click.echo(f"delivered {delivered}")


@webhook.command(name="failed")
@click.argument("department")
def webhook_failed(department: str) -> None:
    """List a department's failed deliveries: id, event, attempts, when, last error."""
    from onething.departments.webhooks import failed_events

    with _app_session() as (_app, session):
        _require_department(session, department)
        events = session.exec(failed_events(session, department)).all()
        for event in events:
            click.echo(f"{event.delivery_id}\t{event.event}\t{event.attempts}\t"
                       f"{event.failed_at.isoformat()}\t{event.last_error or ''}")
        click.echo(f"{len(events)} failed", err=True)


@webhook.command(name="redeliver")
@click.argument("department")
@click.argument("delivery_ids", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Every failed delivery of DEPARTMENT.")
@click.option("--by", default="onething webhook redeliver", show_default=True,
              help="Who is redelivering, for the audit log.")
def webhook_redeliver(department: str, delivery_ids: tuple[str, ...], everything: bool,
                      by: str) -> None:
    """Schedule failed deliveries again, each with its own delivery id (name them, or --all)."""
    from onething.departments.webhooks import failed_events, redeliver

    if bool(delivery_ids) == everything:
        click.echo("name the delivery ids, or give --all", err=True)
        sys.exit(EXIT_DEFINITIONS)
    from sqlmodel import col

    from onething.storage.models import OutboxEvent

    with _app_session() as (_app, session):
        _require_department(session, department)
        if delivery_ids:
            # All named or none: an id mistyped, another department's, or delivered
            # already is said, and nothing is scheduled.
            failed = {event.delivery_id for event in session.exec(
                failed_events(session, department)
                .where(col(OutboxEvent.delivery_id).in_(delivery_ids))).all()}
            if unknown := [i for i in dict.fromkeys(delivery_ids) if i not in failed]:
                click.echo(f"not a failed delivery of {department}: {', '.join(unknown)} "
                           f"(see onething webhook failed {department}); nothing redelivered",
                           err=True)
                sys.exit(EXIT_DEFINITIONS)
        count = redeliver(session, department, by, None if everything else delivery_ids)
    click.echo(f"redelivering {count}")


@main.group()
def token() -> None:
    """API tokens of departments' business systems."""


@token.command(name="add")
@click.argument("department")
@click.option("--name", required=True, help="Which system holds it, for the record.")
@click.option("--days", default=365, show_default=True, type=click.IntRange(1, 3650),
              help="Days until it expires (1 to 3650).")
@_by("onething token add")
def token_add(department: str, name: str, days: int, by: str) -> None:
    """Create an API token for a department's system and print it (shown only once)."""
    from onething.departments.api import new_token

    with _app_session() as (_app, session):
        _require_department(session, department)
        click.echo(new_token(session, department, name, days, actor=by))


@main.group(name="calendar")
def calendar_group() -> None:
    """The holiday calendar administrators keep (the State Council's yearly notice)."""


@calendar_group.command(name="import")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--by", default="onething calendar import", show_default=True,
              help="Who is entering it, for the audit log.")
@click.option("--replace", is_flag=True,
              help="Enter it even though it replaces a year already entered, or names no "
                   "day of a statutory festival (元旦, 春节, 清明, 劳动节, 端午, 中秋, 国庆).")
def calendar_import(file, by: str, replace: bool) -> None:
    """Enter a year's holidays and 调休 working days from FILE (JSON; '-' reads stdin)."""
    from onething.cases.clock import enter_notice
    from onething.cases.holidays import NoticeRefused, parse_notice, review_notice

    try:
        notice = parse_notice(file.read())
    except NoticeRefused as refused:
        report(refused.problems)
        sys.exit(EXIT_DEFINITIONS)
    with _app_session() as (_app, session):
        review = review_notice(session, notice)
        if review.needs_confirmation and not replace:
            # A notice with only 元旦 would make 春节 working days: say so, store nothing.
            for message in review.messages():
                click.echo(message, err=True)
            for day, name in review.holidays_removed:
                click.echo(f"  - {day.isoformat()} {name}", err=True)
            for day, name in review.holidays_added:
                click.echo(f"  + {day.isoformat()} {name}", err=True)
            click.echo("Nothing was stored. Run it again with --replace to enter it.", err=True)
            sys.exit(EXIT_DEFINITIONS)
        enter_notice(session, notice, by)
    holidays, workdays = len(notice.holidays), len(notice.workdays)
    click.echo(f"{notice.year}: {holidays} holiday{'s' * (holidays != 1)}, "
               f"{workdays} working day{'s' * (workdays != 1)} (调休) entered")


@calendar_group.command(name="show")
@click.argument("year", type=click.IntRange(2000, 2100))
def calendar_show(year: int) -> None:
    """Print a year's entered notice in the import format (exit 2 if it was not entered)."""
    from onething.cases.holidays import notice_of

    with _app_session() as (_app, session):
        notice = notice_of(session, year)
    if notice is None:
        click.echo(f"{year} was not entered: due dates use chinese_calendar's "
                   f"(or Monday–Friday, estimated)", err=True)
        sys.exit(EXIT_DEFINITIONS)
    click.echo(json.dumps(notice, ensure_ascii=False, indent=2))


@token.command(name="list")
def token_list() -> None:
    """List API tokens: id, department, name, created, expires, revoked (never the token)."""
    from onething.departments.api import tokens_statement
    from onething.storage.models import utc_now

    now = utc_now()
    with _app_session() as (_app, session):
        for row in session.exec(tokens_statement()).all():
            state = ("revoked" if row.revoked else "expired" if row.expires_at <= now
                     else "valid")
            click.echo(f"{row.id}\t{row.department_code}\t{row.name}\t"
                       f"{row.created_at.isoformat(timespec='seconds')}\t"
                       f"{row.expires_at.isoformat(timespec='seconds')}\t{state}")


@token.command(name="revoke")
@click.argument("token_id", type=click.IntRange(1, 2**31 - 1))
@_by("onething token revoke")
def token_revoke(token_id: int, by: str) -> None:
    """Revoke an API token by its id (from `onething token list`): refused from now on."""
    from onething.departments.api import revoke_token

    with _app_session() as (_app, session):
        found = revoke_token(session, token_id, by)
    if found is None:
        click.echo(f"no token {token_id}", err=True)
        sys.exit(EXIT_DEFINITIONS)
    click.echo(f"revoked token {token_id}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, help="Port to listen on.")
# Python runs one thread at a time: threads beyond a few only overlap database waits,
# and with 8 the GIL hand-offs cost a submit 15% more CPU than with 4 (benchmarks/submit.py).
@click.option("--threads", default=4, show_default=True,
              help="Threads per process (waitress, or each gunicorn worker).")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Processes: above 1, gunicorn runs them (a core each is a good start; "
                   "use PostgreSQL).")
@click.option("--dev", is_flag=True, help="Flask's development server with the reloader.")
def serve(host: str, port: int, threads: int, workers: int, dev: bool) -> None:
    """Serve the web app (waitress; gunicorn with --workers): migrates the database and
    publishes the catalog first."""
    from onething.web.serving import unusable_address

    if problem := unusable_address(host, port):
        raise click.ClickException(problem)
    _log_to_journal()
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Before prometheus_client is imported: each worker then counts its requests in
        # a file there, and /metrics, whichever worker answers, adds them all up.
        import tempfile

        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="onething-metrics-")
    # Once, before any worker starts: migrating and a first start's seeding happen here,
    # and the workers then share this app, forked.
    app = _configured_app()
    # Never the password: this line ends up in journals and terminals' scrollback.
    shown = _database(app)
    click.echo(f"OneThing on http://{host}:{port}/ (database: {shown}, "
               f"{workers} process{'es' if workers > 1 else ''} × {threads} threads)")
    if dev:
        app.run(host=host, port=port, debug=True)
        return
    from onething.cases import summary

    # The statistics' summary, filled here on the first start after an upgrade (seconds
    # at a city's volume, holding SQLite's one write lock), not by a visitor's request;
    # when it is up to date this is one query.
    summary.refresh(app.extensions["onething.engine"])
    import gc

    # What the app built at start (modules, catalog, caches: some 350,000 objects) lives
    # as long as the process: frozen, the cyclic collector never walks it again. A full
    # collection of it costs about 110 ms of CPU, more than a page's whole budget, and
    # would land on whichever request set it off. (gunicorn's workers, forked after
    # this, also keep those memory pages shared.)
    gc.collect()
    gc.freeze()
    if workers > 1:
        from onething.web.serving import serve_gunicorn

        serve_gunicorn(app, host, port, workers, threads)
        return
    if app.config["WEBHOOK_INTERVAL"]:
        from onething.departments.webhooks import start_deliverer

        start_deliverer(app.extensions["onething.engine"], float(app.config["WEBHOOK_INTERVAL"]),
                        threads=int(app.config["WEBHOOK_THREADS"]),
                        timeout=float(app.config["WEBHOOK_TIMEOUT"]))
    from onething.web.serving import serve_waitress

    try:
        serve_waitress(app, host, port, threads)
    except OSError as error:
        # Taken between the check above and now (another server starting at once).
        raise click.ClickException(unusable_address(host, port)
                                   or f"cannot listen on {host}:{port}: {error}") from None


@main.command()
@click.option("--once", is_flag=True,
              help="One look for reminders and one delivery round, then exit (for cron).")
def worker(once: bool) -> None:
    """Deliver webhooks and write deadline reminders until SIGTERM or SIGINT.

    Several may run at once, beside `onething serve`: each endpoint's deliveries are
    claimed by one of them at a time. On a signal it finishes the attempts under way and
    releases its claims.
    """
    import signal
    import threading

    from onething.departments.worker import run_worker

    _log_to_journal()
    stop = threading.Event()
    with _app_session() as (app, _session):
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        engine = app.extensions["onething.engine"]
        click.echo(f"worker started (database: {engine.url.render_as_string()})")
        delivered = run_worker(
            engine, stop,
            interval=float(app.config["WEBHOOK_INTERVAL"] or 5),
            reminder_interval=float(app.config["REMINDER_INTERVAL"]),
            threads=int(app.config["WEBHOOK_THREADS"]),
            timeout=float(app.config["WEBHOOK_TIMEOUT"]), once=once)
    click.echo(f"worker stopped (delivered {delivered})" if once else "worker stopped")



@main.group(name="registry")
def registry_group() -> None:
    """The electronic licence registry (电子证照库): licences the government already holds."""


@registry_group.command(name="import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("--by", default="onething registry import", show_default=True,
              help="Who is importing, for the audit log.")
def registry_import(file: str, by: str) -> None:
    """Import licences from FILE (JSON or CSV), all or none: every bad row is named with
    its field, and nothing is stored then (exit 2)."""
    from onething.registry.service import import_licences, read_rows
    from onething.storage.models import AuditEntry

    text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8-sig")
    try:
        rows = read_rows(text, file)
    except ValueError as error:
        click.echo(f"{file}: not a JSON list or CSV file of licences ({error})", err=True)
        sys.exit(EXIT_DEFINITIONS)
    with _app_session() as (_app, session):
        count, problems = import_licences(session, rows)
        if problems:
            for problem in problems:
                click.echo(f"{file}: {problem}", err=True)
            click.echo(f"nothing imported: {len(problems)} problem(s)", err=True)
            sys.exit(EXIT_DEFINITIONS)
        session.add(AuditEntry(actor=by, action="registry_import", subject="registry",
                               before={}, after={"file": Path(file).name, "licences": count}))
        session.commit()
    click.echo(f"{count} licence(s) imported")


@registry_group.command(name="show")
@click.argument("holder")
def registry_show(holder: str) -> None:
    """Print the licences a holder (credit code or ID number) has in the registry, as JSON."""
    from sqlmodel import select

    from onething.registry.providers import record_of
    from onething.storage.models import Licence

    with _app_session() as (_app, session):
        rows = session.exec(select(Licence).where(
            Licence.holder_code == holder.strip().upper())).all()
        click.echo(json.dumps([record_of(row).as_dict() for row in rows],
                              ensure_ascii=False, indent=2))


def print_statistics(report, as_json: bool, lang: str = "zh-Hans") -> None:
    """The figures of `onething stats`: JSON, or a table of the main ones."""
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
        return
    header = ("group", "received", "completed", "in_progress", "refused", "on_time_%",
              "avg_days", "p90_days", "correction_%", "satisfied_%", "bad", "rectified_%",
              "visits_saved", "days_saved")
    click.echo(f"{report.filters.start} – {report.filters.end}, by {report.by}")
    click.echo("\t".join(header))
    for row in [*report.rows, report.total]:
        name = report.names.get(row.key)
        label = ("total" if row is report.total
                 else localize(name, lang) if isinstance(name, dict) else row.key or "—")
        values = (row.received, row.completed, row.in_progress, row.refused, row.on_time_rate,
                  row.average_days, row.p90_days, row.correction_rate, row.satisfaction_rate,
                  row.bad, row.rectification_rate, row.saved["visits"], row.saved["days"])
        click.echo("\t".join([label, *["—" if value is None else str(value)
                                       for value in values]]))


@main.command(name="stats")
@click.option("--month", default=None, help="One month, YYYY-MM (default: the last six months).")
@click.option("--from", "start", default=None, help="First day, YYYY-MM-DD.")
@click.option("--to", "end", default=None, help="Last day, YYYY-MM-DD.")
@click.option("--by", type=click.Choice(["month", "bundle", "matter", "department"]),
              default="month", show_default=True, help="How to group the figures.")
@click.option("--bundle", default=None, help="One service (一件事) only, by its code.")
@click.option("--department", default=None, help="One department only, by its code.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON, every figure.")
@click.option("--rebuild", is_flag=True,
              help="Summarise every day again first (after rows were loaded behind the "
                   "app's back, or to check the summary).")
@lang_option
def stats(month, start, end, by, bundle, department, as_json: bool, rebuild: bool,
          lang: str) -> None:
    """Print the hall's statistics, the figures of the statistics pages (政务公开)."""
    from onething.cases import statistics, summary

    args = {"month": month, "from": start, "to": end, "by": by, "bundle": bundle}
    try:
        filters, by = statistics.parse_filters({k: v for k, v in args.items() if v},
                                               department)
    except statistics.FiltersRefused as refused:
        # Before any database is opened: a bad date costs nothing.
        click.echo(refused.message(), err=True)
        sys.exit(EXIT_DEFINITIONS)
    with _app_session() as (_app, session):
        if rebuild:
            summary.refresh(session.get_bind(), everything=True)
        print_statistics(statistics.compute(session, filters, by), as_json, lang)


@main.group(name="demo")
def demo_group() -> None:
    """The demo: plausible data for a fresh start."""


@demo_group.command(name="seed-cases")
@click.argument("count", type=click.IntRange(1, 1_000_000))
@click.option("--if-empty", is_flag=True, help="Only into a database that holds no case yet.")
@click.option("--seed", type=int, default=None, help="The random seed (the same cases again).")
def demo_seed_cases(count: int, if_empty: bool, seed: int | None) -> None:
    """Fill the demo with COUNT cases over the last six months, decided, corrected and
    rated (bulk inserts: a thousand in a second or two), so the statistics show something."""
    from onething.cases import demo_cases

    with _app_session() as (_app, session):
        if if_empty and not demo_cases.is_empty(session):
            click.echo("the database holds cases already: nothing seeded")
            return
        made = demo_cases.seed_cases(session, count, seed)
    click.echo(f"seeded {made['cases']} cases, {made['tasks']} tasks, {made['ratings']} "
               f"ratings and {made['rectifications']} rectifications")
@main.group(name="eligibility")
def eligibility_group() -> None:
    """免申即享: benefits offered to every holder the registry shows eligible."""


@eligibility_group.command(name="run")
@click.argument("matter")
@click.option("--by", default="onething eligibility run", show_default=True,
              help="Who runs it, for the audit log.")
def eligibility_run(matter: str, by: str) -> None:
    """Offer MATTER's benefit to every eligible holder without an offer yet, and print each
    new offer's signed link (a hall sends it by SMS). Running it again offers nothing twice."""
    from flask import url_for

    from onething.cases import benefits
    from onething.publishing.versions import bundle_of, latest_version

    with _app_session() as (app, session):
        version = latest_version(session, matter)
        found = bundle_of(version).catalog.matters.get(matter) if version else None
        if found is None or "benefit" not in found.data:
            click.echo(f"{matter}: no published matter of that code offers a benefit", err=True)
            sys.exit(EXIT_DEFINITIONS)
        created, eligible, examined = benefits.run(session, found, actor=by)
        base = app.config.get("PUBLIC_URL") or "http://127.0.0.1:5000"
        with app.test_request_context(base_url=base):
            for offer in created:
                link = url_for("benefits.offer", token=benefits.link_token(
                    offer, app.config["SECRET_KEY"]), _external=True)
                click.echo(f"{offer.holder_name}\t{offer.holder_code[:4]}…"
                           f"{offer.holder_code[-4:]}\t{link}")
    click.echo(f"{examined} holder(s) examined, {eligible} eligible, "
               f"{len(created)} new offer(s)")


if __name__ == "__main__":
    main()
