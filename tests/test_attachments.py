"""Attachments: type read from the bytes, size limit, stored outside the web root, scan hook."""

from __future__ import annotations

import stat

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from cylch.reports import attachments
from cylch.reports.services import SubjectIn, report_submit

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100


@pytest.fixture
def report(prydderch, tmp_path, monkeypatch):
    monkeypatch.setenv("CYLCH_UPLOAD_DIR", str(tmp_path / "uploads"))
    return report_submit(channel="practitioner", children=[SubjectIn(person=prydderch.alys)], concern_codes=["social_care.abuse.physical.concern"],
                         what_happened="Bruise on cheek.", maker=prydderch.staff.school_lead)  # fmt: skip


def test_a_photo_is_stored_privately_with_its_digest(report, tmp_path):
    a = attachments.attachment_add(report=report, uploaded=SimpleUploadedFile("bruise.png", PNG))
    stored = tmp_path / "uploads" / a.stored_name
    assert stored.read_bytes() == PNG and a.content_type == "image/png" and a.scan_status == "not_scanned"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600 and a.stored_name != "bruise.png"


def test_a_renamed_program_is_refused(report):
    with pytest.raises(ValidationError) as exc:
        attachments.attachment_add(report=report, uploaded=SimpleUploadedFile("photo.png", b"MZ\x90\x00 not a picture"))
    assert "attachment" in exc.value.message_dict


def test_too_big_is_refused(report, monkeypatch):
    monkeypatch.setattr(attachments, "MAX_BYTES", 50)
    with pytest.raises(ValidationError):
        attachments.attachment_add(report=report, uploaded=SimpleUploadedFile("big.png", PNG))


def test_the_scan_hook_runs_and_an_infected_file_is_removed(report, tmp_path, monkeypatch):
    """A real command stands in for the scanner: `false` exits 1 (infected), `true` exits 0 (clean)."""
    monkeypatch.setenv("CYLCH_VIRUS_SCAN_COMMAND", "false")
    with pytest.raises(ValidationError):
        attachments.attachment_add(report=report, uploaded=SimpleUploadedFile("x.png", PNG))
    assert list((tmp_path / "uploads").iterdir()) == []
    monkeypatch.setenv("CYLCH_VIRUS_SCAN_COMMAND", "true")
    assert attachments.attachment_add(report=report, uploaded=SimpleUploadedFile("x.png", PNG)).scan_status == "clean"
