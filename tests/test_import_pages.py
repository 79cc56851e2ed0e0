"""The import pages: upload, result by line, spec and template download."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from cylch.events.models import Event, ImportRun

HEADER = "external_id,code,occurred_at,local_id,given_name,family_name,details.service\n"


def test_upload_a_file_and_see_the_result(prydderch, client, demo_hub):
    client.force_login(prydderch.staff.health_visitor)
    good = SimpleUploadedFile(
        "hv.csv", (HEADER + "HV-1,health.appointment.was_not_brought,2026-10-01 09:30,HV-7,Twm,Prydderch,gp\n").encode()
    )
    response = client.post("/imports/", {"file": good})
    run = ImportRun.objects.get()
    assert response["Location"] == f"/imports/{run.public_id}/"
    assert "Stored" in client.get(response["Location"]).content.decode()
    assert Event.objects.filter(external_id="HV-1", organisation=prydderch.orgs.health_visiting).exists()


def test_a_rejected_upload_lists_problems_by_line(prydderch, client, demo_hub):
    client.force_login(prydderch.staff.health_visitor)
    bad = SimpleUploadedFile("bad.csv", (HEADER + "HV-1,health.nope,2026-10-01 09:30,HV-7,Twm,P,gp\n").encode())
    page = client.get(client.post("/imports/", {"file": bad})["Location"]).content.decode()
    assert "Nothing was stored" in page and "health.nope" in page and '<td class="govuk-table__cell">2</td>' in page


def test_runs_are_private_to_the_organisation(prydderch, client, demo_hub):
    client.force_login(prydderch.staff.health_visitor)
    client.post("/imports/", {"file": SimpleUploadedFile("a.csv", HEADER.encode())})
    run = ImportRun.objects.get()
    client.force_login(prydderch.staff.police_officer)
    assert client.get(f"/imports/{run.public_id}/").status_code == 404


def test_spec_page_and_template_download(prydderch, client, demo_hub):
    client.force_login(prydderch.staff.police_officer)
    page = client.get("/imports/spec/?code=police.ppn.domestic_abuse").content.decode()
    assert "details.risk_level" in page and "standard, medium, high" in page
    csv = client.get("/imports/template.csv?code=police.ppn.domestic_abuse")
    assert csv["Content-Type"].startswith("text/csv") and b"details.risk_level" in csv.content


def test_the_result_names_the_children_on_the_register_and_whom_to_contact(prydderch, client, demo_hub):
    """As every other way of recording does (tests/test_register_notice.py): an import about Alys,
    on the register with Gwen Thomas allocated, says so on its result page."""
    from datetime import timedelta

    from django.utils import timezone

    from cylch.events.services import record_event
    from cylch.identity.models import AllocationKind
    from cylch.identity.services import allocation_create
    from tests import factories

    p = prydderch
    allocation_create(person=p.alys, organisation=p.orgs.childrens_services, practitioner=p.staff.social_worker,
                      kind=AllocationKind.ALLOCATED_SOCIAL_WORKER)  # fmt: skip
    record_event(organisation=p.orgs.childrens_services, code="process.register.registered",
                 occurred_at=timezone.now() - timedelta(days=10), person=p.alys, recorded_by=p.staff.social_worker,
                 details=factories.minimal_details("process.register.registered"))  # fmt: skip
    client.force_login(p.staff.gp)
    rows = (
        "GP-EV-1,health.appointment.was_not_brought,2026-10-01 09:30,GP-1003,Alys,Prydderch,gp\n"
        "GP-EV-2,health.appointment.was_not_brought,2026-10-02 09:30,GP-1004,Twm,Prydderch,gp\n"
    )
    response = client.post("/imports/", {"file": SimpleUploadedFile("gp.csv", (HEADER + rows).encode())})
    run = ImportRun.objects.get()
    assert run.register_people == [str(p.alys.public_id)]
    page = client.get(response["Location"]).content.decode()
    assert "Alys Prydderch is on the child protection register" in page and "Gwen Thomas" in page
    assert "Twm Prydderch is on" not in page


def test_a_welsh_page_lists_the_problems_in_welsh(prydderch, client, demo_hub):
    client.force_login(prydderch.staff.health_visitor)
    client.get("/language/cy/")
    bad = SimpleUploadedFile("drwg.csv", (HEADER + "HV-1,health.nope,2026-10-01 09:30,HV-7,Twm,P,gp\n").encode())
    page = client.get(client.post("/imports/", {"file": bad})["Location"]).content.decode()
    assert "Nid yw “health.nope” yn god yn y tacsonomi pryderon." in page
    assert "is not a code" not in page
