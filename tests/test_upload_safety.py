"""An uploaded file can never be executed or served back as a web page.

Cylch takes two uploads: photos and documents attached to a report (kept, under the private
upload directory) and CSV files on the imports page (read, never kept as a file). These tests
follow a hostile file through each: its type comes from its bytes, not its name or the
browser's claim; it is stored under a random name outside everything the hub serves; no URL
serves it; its original name is shown as text; and anything the hub does send as a file is an
attachment that the browser may not sniff or run.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver
from django.views import static

from cylch.events.models import ImportRun
from cylch.reports import attachments
from cylch.reports.models import Report
from cylch.reports.services import SubjectIn, report_submit

PNG = b"\x89PNG\r\n\x1a\n"
SCRIPT = b"<html><body><script>alert(document.cookie)</script></body></html>"
NAME_WITH_MARKUP = "<img src=x onerror=alert(1)>.png"
# Django keeps only the part after the last "/" of an uploaded name; backslashes survive that.
NAME_WITH_PATH = "..\\..\\static\\evil.html"


@pytest.fixture
def private_dirs(tmp_path, settings, monkeypatch):
    """A fresh VAR_DIR, with uploads in its default place beside the static root."""
    monkeypatch.delenv("CYLCH_UPLOAD_DIR", raising=False)
    settings.VAR_DIR = tmp_path / "var"
    settings.STATIC_ROOT = tmp_path / "var" / "static"
    settings.STATIC_ROOT.mkdir(parents=True)
    return tmp_path / "var"


@pytest.fixture
def report(prydderch):
    return report_submit(channel="practitioner", children=[SubjectIn(person=prydderch.alys)],
                         concern_codes=["social_care.abuse.physical.concern"], what_happened="Bruise on cheek.",
                         maker=prydderch.staff.health_visitor)  # fmt: skip


def served_file_views() -> list[str]:
    """Every URL pattern whose view serves files from disk (Django's ``static.serve``)."""
    found = []

    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern) and getattr(p.callback, "__wrapped__", p.callback) is static.serve:
                found.append(prefix + str(p.pattern))

    walk(get_resolver().url_patterns)
    return found


def test_an_html_page_dressed_as_a_photo_is_refused(report, private_dirs):
    """A page of script named .png and declared image/png is not a PNG: refused, nothing kept."""
    upload = SimpleUploadedFile("bruise.png", SCRIPT, content_type="image/png")
    with pytest.raises(ValidationError) as exc:
        attachments.attachment_add(report=report, uploaded=upload)
    assert "attachment" in exc.value.message_dict
    assert list(attachments.upload_dir().iterdir()) == []


def test_the_type_comes_from_the_bytes_and_the_name_is_never_used_on_disk(report, private_dirs):
    """A PNG with script after its signature, uploaded under a hostile name and claiming to be
    HTML, is stored as image/png under a random .png name inside the upload directory."""
    upload = SimpleUploadedFile(NAME_WITH_PATH, PNG + SCRIPT, content_type="text/html")
    attachment = attachments.attachment_add(report=report, uploaded=upload)
    assert attachment.content_type == "image/png"
    assert attachment.stored_name.endswith(".png") and len(attachment.stored_name) == 32 + len(".png")
    assert set(attachment.stored_name[:32]) <= set("0123456789abcdef")
    stored = attachments.upload_dir() / attachment.stored_name
    assert stored.read_bytes() == PNG + SCRIPT
    assert [p.name for p in private_dirs.rglob("*") if p.is_file()] == [attachment.stored_name]
    assert not (private_dirs / "static" / "evil.html").exists()


def test_uploads_are_outside_everything_the_hub_serves(report, private_dirs):
    """The upload directory is not the static root, not inside it, not any app's static folder;
    there is no media root, and no URL pattern serves files from disk."""
    uploads = attachments.upload_dir().resolve()
    served = [Path(settings.STATIC_ROOT).resolve()]
    for finder in finders.get_finders():
        served += [Path(s.location).resolve() for s in getattr(finder, "storages", {}).values()]
    for root in served:
        assert not uploads.is_relative_to(root) and not root.is_relative_to(uploads), root
    assert not settings.MEDIA_ROOT
    assert served_file_views() == []


def test_no_url_reaches_a_stored_upload(prydderch, report, private_dirs, client, demo_hub):
    """Asked for by its stored name, under every prefix that might serve files, the upload is
    never returned."""
    attachment = attachments.attachment_add(report=report, uploaded=SimpleUploadedFile("x.png", PNG + SCRIPT))
    name = attachment.stored_name
    client.force_login(prydderch.staff.social_worker)
    for path in (f"/static/{name}", f"/static/../uploads/{name}", f"/static/%2e%2e/uploads/{name}",
                 f"/media/{name}", f"/uploads/{name}", f"/var/uploads/{name}", f"/{name}"):  # fmt: skip
        response = client.get(path)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert response.status_code in (301, 302, 404) and SCRIPT not in body, path


def test_the_original_name_is_shown_as_text_on_triage_with_no_link(prydderch, report, private_dirs, client, demo_hub):
    """The front door sees the attachment's name escaped, and no link to the file."""
    attachment = attachments.attachment_add(report=report, uploaded=SimpleUploadedFile(NAME_WITH_MARKUP, PNG))
    client.force_login(prydderch.staff.social_worker)
    page = client.get(f"/front-door/{report.reference}/")
    text = page.content.decode()
    assert page.status_code == 200 and "&lt;img src=x onerror=alert(1)&gt;.png" in text
    assert "<img src=x" not in text and attachment.stored_name not in text


def test_a_hostile_file_through_the_report_form_stores_nothing(db, client, demo_hub, private_dirs):
    """Through the public form, a page of script dressed as a photo refuses the whole report."""
    data = {"child0-given_name": "Twm", "child0-family_name": "Prydderch", "what_happened": "Left alone.",
            "concern_codes": ["social_care.neglect.concern"], "immediate_danger": "no",
            "maker_email": "neighbour@example.invalid",
            "attachments": [SimpleUploadedFile("photo.png", SCRIPT, content_type="image/png")]}  # fmt: skip
    response = client.post("/report/new/", data)
    assert response.status_code == 200 and "Attach a PDF" in response.content.decode()
    assert Report.objects.count() == 0
    assert not (private_dirs / "uploads").exists() or list((private_dirs / "uploads").iterdir()) == []


def test_a_csv_import_is_read_not_kept_and_its_name_shown_as_text(prydderch, client, demo_hub, private_dirs):
    """An uploaded CSV full of markup becomes an import run with its problems listed as text;
    no file is written anywhere under the hub's directories."""
    client.force_login(prydderch.staff.health_visitor)
    body = b"external_id,code,occurred_at\n<script>alert(1)</script>,health.appointment.was_not_brought,<b>x</b>\n"
    upload = SimpleUploadedFile(NAME_WITH_MARKUP + ".csv", body, content_type="text/html")
    response = client.post("/imports/", {"file": upload})
    run = ImportRun.objects.get()
    assert response.status_code == 302 and run.status == "rejected"
    page = client.get(f"/imports/{run.public_id}/")
    text = page.content.decode()
    assert "&lt;img src=x onerror=alert(1)&gt;.png.csv" in text
    assert "<img src=x" not in text and "<script>alert" not in text
    assert page["Content-Type"].startswith("text/html") and "script-src 'self'" in page["Content-Security-Policy"]
    assert [p for p in private_dirs.rglob("*") if p.is_file()] == []
