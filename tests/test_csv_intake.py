"""CSV intake: errors by line and column, all or nothing, idempotent re-import, the command."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from cylch.events.csv_intake import columns_for, import_csv, template
from cylch.events.models import Event, ImportRun
from cylch.identity.models import AgencyRecord, Person

HEADER = "external_id,code,occurred_at,local_id,given_name,family_name,date_of_birth,nhs_number,details.service,details.rebooked,summary\n"


def csv_bytes(*rows: str) -> bytes:
    return (HEADER + "\n".join(rows) + "\n").encode()


GOOD = [
    "HV-1,health.appointment.was_not_brought,2026-10-01 09:30,HV-77,Twm,Prydderch,03/05/2023,,health_visiting,yes,Not brought to 2-year review",
    "HV-2,health.appointment.was_not_brought,01/10/2026 14:00,HV-78,Alys,Prydderch,2019-04-03,,paediatrics,no,",
]


def test_a_good_file_is_stored_and_summarised(prydderch):
    run = import_csv(organisation=prydderch.orgs.health_visiting, data=csv_bytes(*GOOD), filename="hv.csv")
    assert run.status == "stored" and (run.rows, run.created, run.unchanged) == (2, 2, 0)
    event = Event.objects.get(organisation=prydderch.orgs.health_visiting, external_id="HV-1")
    assert event.details == {"service": "health_visiting", "rebooked": True}
    assert event.source == "csv"


def test_importing_the_same_file_again_stores_nothing_new(prydderch):
    import_csv(organisation=prydderch.orgs.health_visiting, data=csv_bytes(*GOOD))
    counts = (Event.objects.count(), AgencyRecord.objects.count(), Person.objects.count())
    again = import_csv(organisation=prydderch.orgs.health_visiting, data=csv_bytes(*GOOD))
    assert again.status == "stored" and (again.created, again.unchanged) == (0, 2)
    assert (Event.objects.count(), AgencyRecord.objects.count(), Person.objects.count()) == counts


def test_a_resend_is_recognised_after_the_record_is_relinked(prydderch):
    """Moving a record to another person (unlink, merge) must not turn a resend into a clash."""
    from cylch.identity.models import PersonLink
    from cylch.identity.services import link_undo

    import_csv(organisation=prydderch.orgs.health_visiting, data=csv_bytes(*GOOD))
    record = AgencyRecord.objects.get(organisation=prydderch.orgs.health_visiting, local_id="HV-77")
    link_undo(link=PersonLink.objects.get(agency_record=record, active=True), actor=prydderch.staff.social_worker,
              reason="not our Twm")  # fmt: skip
    again = import_csv(organisation=prydderch.orgs.health_visiting, data=csv_bytes(*GOOD))
    assert again.status == "stored" and (again.created, again.unchanged) == (0, 2), again.errors


@pytest.mark.parametrize(
    ("bad_row", "column", "words"),
    [
        (
            "HV-3,health.appointment.was_not_brought,2026-10-02 10:00,HV-79,Efa,Prydderch,,1234567890,gp,yes,",
            "nhs_number",
            "NHS number",
        ),
        ("HV-3,health.appointment.made_up,2026-10-02 10:00,HV-79,Efa,Prydderch,,,gp,yes,", "code", "not a code"),
        (
            "HV-3,health.appointment.was_not_brought,not a date,HV-79,Efa,Prydderch,,,gp,yes,",
            "occurred_at",
            "not a date",
        ),
        (
            "HV-3,health.appointment.was_not_brought,2026-10-02 10:00,HV-79,Efa,Prydderch,,,spaceship,yes,",
            "details.service",
            "is not one of",
        ),
    ],
)
def test_one_bad_row_rolls_back_the_whole_file_and_names_its_line(prydderch, bad_row, column, words):
    """The bad row is on line 4 (header is line 1); nothing from lines 2 and 3 is stored."""
    before = (Event.objects.count(), AgencyRecord.objects.count(), Person.objects.count())
    run = import_csv(organisation=prydderch.orgs.health_visiting, data=csv_bytes(*GOOD, bad_row), filename="bad.csv")
    assert run.status == "rejected"
    assert any(e["line"] == 4 and e["column"] == column and words in e["message"] for e in run.errors), run.errors
    assert (Event.objects.count(), AgencyRecord.objects.count(), Person.objects.count()) == before
    assert ImportRun.objects.filter(status="rejected").count() == 1


def test_missing_required_columns_are_named():
    from cylch.events.csv_intake import parse

    parsed = parse("external_id,code\nX,health.appointment.was_not_brought\n")
    assert parsed.errors[0]["line"] == 1 and "occurred_at" in parsed.errors[0]["column"]


def test_the_template_matches_the_columns_the_importer_reads():
    code = "police.ppn.domestic_abuse"
    header = template(code).splitlines()[0].split(",")
    assert header == [c.name for c in columns_for(code)]
    assert "details.risk_level" in header and any(
        c.required for c in columns_for(code) if c.name == "details.risk_level"
    )


def test_the_command_imports_and_fails_loudly(prydderch, tmp_path, capsys):
    good = tmp_path / "hv.csv"
    good.write_bytes(csv_bytes(*GOOD))
    call_command("import", "csv", str(good), "--organisation", prydderch.orgs.health_visiting.code, "--no-progress")
    assert "2 new events" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_bytes(
        csv_bytes("HV-9,health.appointment.was_not_brought,2026-10-02 10:00,HV-79,Efa,P,,1234567890,gp,yes,")
    )
    with pytest.raises(CommandError, match="nothing was stored"):
        call_command("import", "csv", str(bad), "--organisation", prydderch.orgs.health_visiting.code, "--no-progress")
    assert "bad.csv:2: nhs_number:" in capsys.readouterr().err


def test_impossible_dates_and_unreadable_rows_are_errors_with_their_line(prydderch):
    org = prydderch.orgs.health_visiting
    impossible = GOOD[0].replace("2026-10-01 09:30", "2026-02-30 09:30")
    run = import_csv(organisation=org, data=csv_bytes(GOOD[1], impossible))
    assert run.status == "rejected"
    assert [(e["line"], e["column"]) for e in run.errors] == [(3, "occurred_at")]
    huge = GOOD[1].replace(",no,", ',no,"' + "x" * 200_000 + '"', 1)
    run = import_csv(organisation=org, data=csv_bytes(GOOD[0], huge))
    assert run.status == "rejected" and run.errors[0]["line"] == 3 and "cannot be read" in run.errors[0]["message"]
    assert Event.objects.count() == 0 and ImportRun.objects.count() == 2


def test_a_row_spanning_lines_is_reported_at_its_first_line(prydderch):
    bad = "HV-3,health.appointment.made_up,2026-10-02 10:00,HV-79,Efa,Prydderch,,,gp,yes,"
    multi = bad.replace(",gp,yes,", ',gp,yes,"first line\nsecond line"')
    run = import_csv(organisation=prydderch.orgs.health_visiting, data=csv_bytes(GOOD[0], multi, GOOD[1]))
    assert [(e["line"], e["column"]) for e in run.errors] == [(3, "code")]


def test_the_import_audit_says_how_each_new_record_was_linked(prydderch):
    from cylch.access.models import AuditEntry

    import_csv(organisation=prydderch.orgs.health_visiting, data=csv_bytes(*GOOD))
    entry = AuditEntry.objects.filter(object_type="event_batch").latest("pk")
    records = {r["record"]: r for r in entry.detail["records"]}
    twm = AgencyRecord.objects.get(organisation=prydderch.orgs.health_visiting, local_id="HV-77")
    assert set(records) == set(
        str(r.public_id)
        for r in AgencyRecord.objects.filter(
            organisation=prydderch.orgs.health_visiting, local_id__in=["HV-77", "HV-78"]
        )
    )
    assert records[str(twm.public_id)]["link"] and records[str(twm.public_id)]["person"]


def test_a_file_that_is_not_utf8_is_refused_at_the_line_with_the_first_bad_byte(prydderch):
    """Found by fuzzing: the run said 0 problems for a file saved as Latin-1."""
    data = csv_bytes(GOOD[0], GOOD[1].replace("Alys", "Siân")).decode().encode("latin-1")
    run = import_csv(organisation=prydderch.orgs.health_visiting, data=data)
    assert (run.status, run.error_count) == ("rejected", 1)
    assert [(e["line"], e["column"]) for e in run.errors] == [(3, "")] and "UTF-8" in run.errors[0]["message"]
    assert not Event.objects.exists()


def test_a_quote_left_open_is_refused_at_its_row_not_read_as_the_rest_of_the_file(prydderch):
    """Found by fuzzing: an unclosed quote took every later row into one cell and the file was
    stored without them; text after a closing quote was glued on."""
    org = prydderch.orgs.health_visiting
    unclosed = GOOD[0].replace("Not brought", '"Not brought')
    run = import_csv(organisation=org, data=csv_bytes(unclosed, GOOD[1]))
    assert run.status == "rejected" and [(e["line"], e["column"]) for e in run.errors] == [(2, "")]
    assert "cannot be read as CSV" in run.errors[0]["message"]
    glued = GOOD[1].rstrip(",") + ',"Seen"later'
    run = import_csv(organisation=org, data=csv_bytes(GOOD[0], glued))
    assert run.status == "rejected" and [(e["line"], e["column"]) for e in run.errors] == [(3, "")]
    assert not Event.objects.exists()


def test_a_row_with_more_cells_than_the_header_is_refused_at_its_line(prydderch):
    """Found by fuzzing: the cells beyond the header were dropped and the row stored, so an
    unquoted comma in a summary lost the rest of it without a word."""
    unquoted = GOOD[0].replace("Not brought to 2-year review", "Not brought, rebooked for May")
    run = import_csv(organisation=prydderch.orgs.health_visiting, data=csv_bytes(GOOD[1], unquoted))
    assert run.status == "rejected" and [(e["line"], e["column"]) for e in run.errors] == [(3, "")]
    assert "12 cells and the header 11" in run.errors[0]["message"]
    assert not Event.objects.exists()


def test_a_column_named_twice_in_the_header_is_refused(prydderch):
    """Found by fuzzing: only the second column's values were read, the first's dropped."""
    data = csv_bytes(GOOD[0] + ",Seen at home").replace(b",summary\n", b",summary,summary\n", 1)
    run = import_csv(organisation=prydderch.orgs.health_visiting, data=data)
    assert run.status == "rejected" and [(e["line"], e["column"]) for e in run.errors] == [(1, "summary")]
    assert not Event.objects.exists()


def test_a_nul_character_is_refused_at_its_line_and_column(prydderch):
    """Found by fuzzing: on PostgreSQL a NUL in any cell (or the file name) raised a DataError
    out of the import and nothing, not even the run, was recorded."""
    data = csv_bytes(GOOD[0], GOOD[1].replace("Alys", "Al\x00ys"))
    run = import_csv(organisation=prydderch.orgs.health_visiting, data=data, filename="hv\x00.csv")
    assert run.status == "rejected" and [(e["line"], e["column"]) for e in run.errors] == [(3, "given_name")]
    assert "NUL" in run.errors[0]["message"] and run.filename == "hv.csv"
    assert not Event.objects.exists()


def test_problems_are_told_in_the_language_the_file_was_sent_in(prydderch):
    """A file sent from a Welsh page is answered in Welsh, by line and column: the file's own
    problems (an unknown column) and its rows' (a value not in the list, neither yes nor no)."""
    from django.utils import translation

    org = prydderch.orgs.health_visiting
    row = "HV-3,health.appointment.was_not_brought,2026-10-02 10:00,HV-79,Efa,Prydderch,,,spaceship,maybe,"
    with translation.override("cy"):
        header = import_csv(organisation=org, data=("lliw," + HEADER).encode())
        rows = import_csv(organisation=org, data=csv_bytes(GOOD[0], row))
    assert header.errors == [{"line": 1, "column": "lliw", "message": "Colofn anhysbys."}]
    said = {(e["line"], e["column"]): e["message"] for e in rows.errors}
    assert said[(3, "details.rebooked")] == "Rhowch ie neu na."
    assert said[(3, "details.service")].startswith("Nid yw “spaceship” yn un o'r rhain: gp, health_visiting,")
    english = import_csv(organisation=org, data=csv_bytes(GOOD[0], row))
    assert {(e["line"], e["column"]): e["message"] for e in english.errors}[
        (3, "details.rebooked")
    ] == "Give yes or no."


def test_a_file_refused_for_its_header_is_told_about_its_rows_too(prydderch):
    """One round of fixing: an unknown column is named, and so is each bad value in the rows,
    once each (a time that cannot be read is not named twice); nothing is stored."""
    header = HEADER.replace("summary\n", "summary,colour\n")
    bad_time = GOOD[1].replace("01/10/2026 14:00", "teatime") + ",blue"
    bad_service = GOOD[0].replace("health_visiting", "spaceship") + ",red"
    before = Event.objects.count()
    run = import_csv(
        organisation=prydderch.orgs.health_visiting, data=(header + f"{bad_service}\n{bad_time}\n").encode()
    )
    said = sorted((e["line"], e["column"]) for e in run.errors)
    assert said == [(1, "colour"), (2, "details.service"), (3, "occurred_at")], run.errors
    assert run.status == "rejected" and Event.objects.count() == before
