"""The `onething` command line: compose, build, and its documentation."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from onething.cli import EXIT_DEFINITIONS, main

from conftest import CALENDAR_GAMMA, REPO, SCHEMAS, apply_edits

ALL_YES = {"has_business_licence": False, "public_gathering_place": True,
           "fire_route": "commitment", "outdoor_signboard": True, "sells_tobacco": True}


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_check_passes_on_the_demo_catalog():
    result = invoke("check")
    assert result.exit_code == 0, result.output
    assert "OK (" in result.output


def test_check_names_each_file_as_the_shell_that_ran_it_would_open_it(
        tmp_path, monkeypatch):
    import shutil

    copy = tmp_path / "pilot" / "schemas"
    shutil.copytree(SCHEMAS, copy)
    matter = copy / "catalog" / "matters" / "business-registration.json"
    matter.write_text(matter.read_text(encoding="utf-8").replace(
        '"department": "sn-amr"', '"department": "sn-amrr"'), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = invoke("check", "--schemas", copy)
    assert result.exit_code == EXIT_DEFINITIONS
    # Not schemas/catalog/…, which from here is no file (or, in a checkout, the good one).
    shown = "pilot/schemas/catalog/matters/business-registration.json#/department"
    assert result.output.startswith(shown) and (tmp_path / shown.split("#")[0]).exists()


def test_compose_shows_the_form_materials_plan_and_savings():
    result = invoke("compose", "open-restaurant", "--answers", json.dumps(ALL_YES))
    assert result.exit_code == 0, result.output
    for heading in ("ONE FORM", "ONE SET OF MATERIALS", "ROUTING PLAN", "SAVINGS"):
        assert heading in result.output
    assert "critical path: business-registration → food-business-licence = 5 working days" \
        in result.output
    assert "1 working day, in parallel" in result.output  # one day, not "1 working days"
    forms = re.search(r"forms\s+(\d+) → (\d+)", result.output)
    assert forms.groups() == ("5", "1")


def test_compose_says_a_calendar_day_step_in_calendar_days(mini_root):
    apply_edits(mini_root, CALENDAR_GAMMA)
    result = invoke("compose", "mini-bundle", "--schemas", mini_root, "--answers",
                    json.dumps({"wants_sign": True}))
    assert result.exit_code == 0, result.output
    assert re.search(r"gamma → .*: 14 calendar days, after alpha", result.output)
    assert re.search(r"alpha → .*: 2 working days, in parallel", result.output)
    assert "critical path: alpha → gamma = 12 working days" in result.output


def test_compose_in_english():
    result = invoke("compose", "open-restaurant", "--lang", "en")
    assert "Open a restaurant" in result.output or "restaurant" in result.output.lower()


def test_compose_json_is_the_whole_composition():
    result = invoke("compose", "open-restaurant", "--json")
    data = json.loads(result.output)
    assert set(data) >= {"schema", "layout", "materials", "plan", "savings", "provenance"}


def test_compose_refuses_answers_that_contradict_the_questionnaire():
    result = invoke("compose", "open-restaurant", "--answers", '{"sells_tobacco": "lots"}')
    assert result.exit_code == 2
    assert "answers.sells_tobacco" in result.output
    assert "Traceback" not in result.output
    # A choice says the answers it takes.
    choice = invoke("compose", "open-restaurant", "--answers", '{"fire_route": "fast"}')
    assert choice.exit_code == 2
    assert 'answers.fire_route: "fast" is not one of: "commitment", "inspection"' \
        in choice.output


def test_compose_refuses_an_unknown_bundle_and_names_the_known_ones():
    result = invoke("compose", "open-bakery")
    assert result.exit_code == 2
    assert "unknown bundle 'open-bakery'" in result.output
    assert "open-restaurant" in result.output


def test_compose_refuses_answers_that_are_not_json():
    result = invoke("compose", "open-restaurant", "--answers", "{yes}")
    assert result.exit_code == 2
    assert "not JSON" in result.output


def test_generated_is_up_to_date_with_schemas():
    result = invoke("build", "--check")
    assert result.exit_code == 0, result.output


def test_build_check_names_stale_files(tmp_path):
    out = tmp_path / "generated"
    assert invoke("build", "--out", out).exit_code == 0
    (out / "open-restaurant" / "savings.json").write_text("{}\n")
    (out / "leftover.json").write_text("{}\n")
    result = invoke("build", "--check", "--out", out)
    assert result.exit_code == 1
    assert "stale: generated/open-restaurant/savings.json" in result.output
    assert "stale: generated/leftover.json" in result.output


def test_build_writes_every_bundle(tmp_path):
    out = tmp_path / "generated"
    invoke("build", "--out", out)
    bundles = sorted(p.stem for p in (SCHEMAS / "catalog" / "bundles").glob("*.json"))
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == bundles
    for bundle in bundles:
        assert sorted(p.name for p in (out / bundle).iterdir()) == [
            "form.schema.json", "layout.json", "materials.json", "provenance.json",
            "routing.json", "savings.json"]


def test_every_command_is_documented_in_the_readme():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for name, command in main.commands.items():
        assert f"`onething {name}" in readme, f"onething {name} is not in README.md"
        for sub in getattr(command, "commands", {}):
            assert f"`onething {name} {sub}" in readme, f"onething {name} {sub} is not in README.md"


def test_every_setting_is_documented_in_the_readme():
    from onething.web.settings import SETTINGS

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for setting in SETTINGS:
        assert f"| `{setting.name}` |" in readme, f"setting {setting.name} is not in README.md"


def test_settings_that_cannot_be_used_are_refused_on_start_all_at_once(tmp_path, monkeypatch):
    from onething.web.app import create_app
    from onething.web.settings import SettingsError

    # As copied from the README into a systemd environment file, comment and all.
    monkeypatch.setenv("ONETHING_TRUSTED_PROXIES", "1       # the nginx in front")
    monkeypatch.setenv("ONETHING_LOGIN_RATE_LIMIT", "10/5min")
    monkeypatch.setenv("ONETHING_WEBHOOK_TIMEOUT", "2.5")  # a number: fine
    monkeypatch.setenv("ONETHING_INSTANCE_PATH", str(tmp_path / "instance"))
    with pytest.raises(SettingsError) as refused:
        create_app({"TESTING": True}, instance_path=tmp_path / "instance")
    assert refused.value.problems == [
        "TRUSTED_PROXIES: '1       # the nginx in front' is not a number",
        "LOGIN_RATE_LIMIT: not a limit like '10 per 5 minutes': '10/5min'"]
    said = CliRunner().invoke(main, ["worker", "--once"])
    assert said.exit_code == 1 and "Traceback" not in said.output
    assert said.output.splitlines()[:2] == ["Error: settings that cannot be used:",
                                            "  TRUSTED_PROXIES: '1       # the nginx in front'"
                                            " is not a number"]
    assert not (tmp_path / "instance").exists()  # refused before anything was made
    # A limit read as a number (JSON) is refused by name too, not with a traceback.
    monkeypatch.delenv("ONETHING_TRUSTED_PROXIES")
    monkeypatch.setenv("ONETHING_LOGIN_RATE_LIMIT", "10")
    with pytest.raises(SettingsError) as refused:
        create_app({"TESTING": True}, instance_path=tmp_path / "instance")
    assert refused.value.problems == [
        "LOGIN_RATE_LIMIT: not a limit like '10 per 5 minutes': 10"]


def test_settings_written_as_text_or_as_yes_and_no_still_start(tmp_path, monkeypatch):
    from onething.web.app import create_app

    # false for none, true for one proxy (as they worked before the check); a number as
    # text, as instance/config.py may write it.
    monkeypatch.setenv("ONETHING_DEMO_CASES", "false")
    monkeypatch.setenv("ONETHING_TRUSTED_PROXIES", "true")
    app = create_app({"TESTING": True, "WEBHOOK_TIMEOUT": "2.5", "DATABASE_POOL_SIZE": "6",
                      "DATABASE_URL": f"sqlite:///{tmp_path / 'hall.db'}"},
                     instance_path=tmp_path / "instance")
    assert (app.config["DEMO_CASES"], app.config["TRUSTED_PROXIES"]) == (0, 1)
    assert (app.config["WEBHOOK_TIMEOUT"], app.config["DATABASE_POOL_SIZE"]) == (2.5, 6)
    app.extensions["onething.engine"].dispose()


def test_the_embedded_demo_has_the_readme_accounts_and_a_configured_database_does_not(tmp_path):
    from sqlmodel import Session, select

    from onething.accounts.service import DEMO_ACCOUNTS, DEMO_PASSWORD, authenticate
    from onething.storage.models import Account
    from onething.web.app import create_app

    demo = create_app({"TESTING": True}, instance_path=tmp_path / "demo")
    assert demo.config["DEMO_CASES"] == 600  # the demo's statistics have something to show
    # A pilot's own catalog gets no made-up cases in its new departments' inboxes.
    pilot = create_app({"TESTING": True, "SCHEMAS": str(REPO / "schemas")},
                       instance_path=tmp_path / "pilot")
    assert pilot.config["DEMO_CASES"] == 0 and pilot.config["DEMO_ACCOUNTS"] is True
    pilot.extensions["onething.engine"].dispose()
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    with Session(demo.extensions["onething.engine"]) as session:
        for username, _name, role, department in DEMO_ACCOUNTS:
            account = authenticate(session, username, DEMO_PASSWORD)
            assert account is not None and account.role == role
            assert account.department_code == department
            assert f"| `{username}` |" in readme
    assert f"`{DEMO_PASSWORD}`" in readme
    demo.extensions["onething.engine"].dispose()
    # A restart finds them there and adds none again.
    again = create_app({"TESTING": True}, instance_path=tmp_path / "demo")
    with Session(again.extensions["onething.engine"]) as session:
        assert len(session.exec(select(Account)).all()) == len(DEMO_ACCOUNTS)
    again.extensions["onething.engine"].dispose()
    configured = create_app({"TESTING": True,
                             "DATABASE_URL": f"sqlite:///{tmp_path / 'prod.db'}"},
                            instance_path=tmp_path / "prod")
    with Session(configured.extensions["onething.engine"]) as session:
        assert session.exec(select(Account)).all() == []
    configured.extensions["onething.engine"].dispose()


@pytest.mark.parametrize("command", [
    ["token", "add", "{department}", "--name", "test system"],
    ["webhook", "set", "{department}", "https://example.org/hook"],
])
def test_department_commands_refuse_an_unknown_department(tmp_path, monkeypatch, command):
    monkeypatch.setenv("ONETHING_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("ONETHING_INSTANCE_PATH", str(tmp_path / "instance"))
    unknown = invoke(*[part.format(department="nowhere-office") for part in command])
    assert unknown.exit_code == EXIT_DEFINITIONS
    assert "unknown department 'nowhere-office'" in unknown.output
    known = invoke(*[part.format(department="qd-amr") for part in command])
    assert known.exit_code == 0, known.output


@pytest.mark.parametrize(("role", "extra"), [
    ("administrator", []),
    ("department_staff", ["--department", "qd-amr"]),
    ("front_desk", ["--name", "王小明"]),
])
def test_user_add_creates_an_account_that_signs_in(tmp_path, monkeypatch, role, extra):
    monkeypatch.setenv("ONETHING_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("ONETHING_INSTANCE_PATH", str(tmp_path / "instance"))
    result = CliRunner().invoke(main, ["user", "add", "lin", "--role", role, *extra],
                                input="a long password\na long password\n")
    assert result.exit_code == 0, result.output
    # Which database it went to: a shell without the service's environment is seen.
    assert f"created {role} lin (database: sqlite:///{tmp_path / 'cli.db'})" in result.output

    from onething.web.app import create_app

    app = create_app()
    client = app.test_client()
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))[1]
    signed_in = client.post("/login", data={"username": "lin", "password": "a long password",
                                            "csrf_token": token})
    assert signed_in.status_code == 302
    assert "/login" not in signed_in.headers["Location"]
    again = CliRunner().invoke(main, ["user", "add", "lin", "--role", role, *extra],
                               input="a long password\na long password\n")
    assert again.exit_code == EXIT_DEFINITIONS
    app.extensions["onething.engine"].dispose()


def test_user_add_names_a_mistyped_department_before_asking_the_password(
        tmp_path, monkeypatch):
    _cli_database(tmp_path, monkeypatch)
    # No input at all: asking for the password first would fail on the end of input.
    result = CliRunner().invoke(main, ["user", "add", "lin", "--role", "department_staff",
                                       "--department", "qd-amrr"], input="")
    assert result.exit_code == EXIT_DEFINITIONS
    assert "unknown department 'qd-amrr'; did you mean qd-amr" in result.output
    assert "Password" not in result.output


def test_a_database_that_cannot_be_reached_is_said_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("ONETHING_DATABASE_URL",
                       f"postgresql+psycopg://onething@/hall?host={tmp_path / 'no-server'}")
    monkeypatch.setenv("ONETHING_INSTANCE_PATH", str(tmp_path / "instance"))
    result = CliRunner().invoke(main, ["worker", "--once"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: cannot use the database: connection ")
    assert "Is the server running" in result.output
    assert "no-server" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_compose_marks_what_a_matter_hands_over():
    result = invoke("compose", "open-restaurant", "--answers", json.dumps(ALL_YES))
    assert "→ 统一社会信用代码 [entity_uscc" in result.output


@pytest.mark.parametrize("days", ["-5", "0", "3000000"])
def test_a_token_lives_between_one_day_and_ten_years(days):
    result = invoke("token", "add", "sn-amr", "system", "--days", days)
    assert result.exit_code == 2 and "1<=x<=3650" in result.output.replace(" ", "")


def _cli_database(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ONETHING_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("ONETHING_INSTANCE_PATH", str(tmp_path / "instance"))


def _audit_actions(subject: str) -> list[str]:
    from sqlmodel import Session, col, select

    from onething.storage.models import AuditEntry
    from onething.web.app import create_app

    app = create_app()
    with Session(app.extensions["onething.engine"]) as session:
        actions = list(session.exec(select(AuditEntry.action).where(
            AuditEntry.subject == subject).order_by(col(AuditEntry.id))).all())
    app.extensions["onething.engine"].dispose()
    return actions


def test_user_lifecycle_commands_keep_an_administrator_and_are_audited(tmp_path, monkeypatch):
    _cli_database(tmp_path, monkeypatch)
    for name, role in (("root", "administrator"), ("lin", "front_desk")):
        result = invoke("user", "add", name, "--role", role, "--password", "a long password")
        assert result.exit_code == 0, result.output
    listed = invoke("user", "list")
    assert "root\tadministrator\t-\tenabled" in listed.output
    assert "lin\tfront_desk\t-\tenabled" in listed.output
    refused = invoke("user", "disable", "root")
    assert refused.exit_code == EXIT_DEFINITIONS
    assert "At least one enabled administrator must remain" in refused.output
    assert invoke("user", "role", "root", "front_desk").exit_code == EXIT_DEFINITIONS
    assert invoke("user", "disable", "lin").output == "disabled lin\n"
    assert "lin\tfront_desk\t-\tdisabled" in invoke("user", "list").output
    assert invoke("user", "enable", "lin").exit_code == 0
    short = invoke("user", "password", "lin", "--password", "short")
    assert short.exit_code == EXIT_DEFINITIONS and "at least 10 characters" in short.output
    assert invoke("user", "password", "lin", "--password", "another long one").exit_code == 0
    unknown = invoke("user", "role", "lin", "department_staff", "--department", "nowhere")
    assert unknown.exit_code == EXIT_DEFINITIONS
    staff = invoke("user", "role", "lin", "department_staff", "--department", "qd-amr",
                   "--by", "王主任")
    assert staff.exit_code == 0 and "lin is now department_staff of qd-amr" in staff.output
    assert invoke("user", "disable", "nobody").exit_code == EXIT_DEFINITIONS
    assert _audit_actions("account:lin") == [
        "account_create", "account_disable", "account_enable", "account_password",
        "account_role"]


def test_token_list_and_revoke(tmp_path, monkeypatch):
    _cli_database(tmp_path, monkeypatch)
    token = invoke("token", "add", "qd-amr", "--name", "amr system").output.strip()
    listed = invoke("token", "list")
    assert listed.exit_code == 0 and "\tqd-amr\tamr system\t" in listed.output
    assert listed.output.rstrip().endswith("valid") and token not in listed.output
    token_id = listed.output.split("\t")[0]
    assert invoke("token", "revoke", token_id).output == f"revoked token {token_id}\n"
    assert invoke("token", "list").output.rstrip().endswith("revoked")
    assert invoke("token", "revoke", "99999").exit_code == EXIT_DEFINITIONS
    # Made and revoked, each on the record (never the token itself).
    assert _audit_actions(f"token:{token_id}") == ["token_create", "token_revoke"]


def test_webhook_disable_enable_and_rotate(tmp_path, monkeypatch):
    _cli_database(tmp_path, monkeypatch)
    assert invoke("webhook", "disable", "qd-amr").exit_code == EXIT_DEFINITIONS  # none yet
    first = invoke("webhook", "set", "qd-amr", "https://example.org/hook").output.strip()
    assert invoke("webhook", "disable", "qd-amr").output == "disabled qd-amr\n"
    assert invoke("webhook", "disable", "qd-amr").output == "qd-amr was disabled already\n"
    assert invoke("webhook", "enable", "qd-amr").output == "enabled qd-amr\n"
    rotated = invoke("webhook", "rotate", "qd-amr").output.strip()
    assert rotated.startswith("whsec_") and rotated != first
    # Set from the command line too, on the record (never the secret).
    assert _audit_actions("webhook:qd-amr") == ["webhook_set", "webhook_disable",
                                                "webhook_enable", "webhook_rotate"]


@pytest.mark.parametrize(("url", "said"), [
    ("https://u:secret@example.org/hook?token=abc", "user name or password"),
    ("ftp://example.org/hook", "http(s)"), ("https:///hook", "http(s)"),
    ("https://example.org:port/hook", "port")])
def test_a_webhook_address_that_cannot_be_sent_to_is_refused(tmp_path, monkeypatch, url, said):
    _cli_database(tmp_path, monkeypatch)
    refused = invoke("webhook", "set", "qd-amr", url)
    assert refused.exit_code == EXIT_DEFINITIONS and said in refused.output
    assert "secret" not in refused.output
    assert _audit_actions("webhook:qd-amr") == []


def test_a_delivery_error_never_quotes_the_addresses_secrets():
    from onething.departments.webhooks import scrubbed

    url = "https://u:s3cret@example.org/hook?token=abc123"
    said = scrubbed("InvalidURL: nonnumeric port: 's3cret@example.org' (token=abc123)", url)
    assert "s3cret" not in said and "abc123" not in said and "example.org" in said


def test_a_webhook_address_is_recorded_without_its_password_or_query():
    from onething.departments.webhooks import shown_url

    assert shown_url("https://user:pw@hooks.example.org:8443/in?token=abc") == (
        "https://hooks.example.org:8443/in?…")
    assert shown_url("http://127.0.0.1:9/hook") == "http://127.0.0.1:9/hook"


def test_serve_on_a_port_already_taken_says_so_in_one_line_before_starting(monkeypatch):
    import socket

    import onething.web.app

    def never(*_args, **_kwargs):
        raise AssertionError("the app must not start (migrate, seed) when it cannot listen")

    monkeypatch.setattr(onething.web.app, "create_app", never)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for workers in ("1", "2"):
            result = invoke("serve", "--port", port, "--workers", workers)
            assert result.exit_code == 1
            assert result.output == (f"Error: port {port} on 127.0.0.1 is already in use "
                                     f"(another OneThing, or another server): stop it, or "
                                     f"choose another port with --port\n")
    result = invoke("serve", "--host", "no-such-host.invalid")
    assert result.exit_code == 1
    assert "not an address or a host name" in result.output
    assert "Traceback" not in result.output


def test_a_free_port_is_usable():
    from onething.web.serving import unusable_address

    assert unusable_address("127.0.0.1", 0) is None
