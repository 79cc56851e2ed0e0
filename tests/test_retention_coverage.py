"""Every table of Cylch has a retention answer (a class removes it, or it is kept and why, or it is
a named gap), and the four classes that closed gaps: lead-coordinator proposals, sign-in
attempts, the name tables of retired linkage models, and the accounts of people who have left."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from django.core.checks import run_checks
from django.utils import timezone

from cylch.access.audit import audit_verify
from cylch.access.models import AuditEntry, LoginAttempt
from cylch.access.services import sign_in_attempt_record, sign_in_throttled
from cylch.governance import retention
from cylch.governance.models import Removal, RunStatus
from cylch.governance.retention_records import CLASSES, add_years, coverage
from cylch.identity.models import LinkageModelVersion
from cylch.rules.coordinator import proposal_decline
from cylch.rules.models import LeadCoordinatorProposal, ProposalStatus
from tests.test_retention import ALYS_25, DAY, canonical_sha256, due_ids

pytestmark = pytest.mark.django_db

# The tables that hold personal data and that no class removes yet, each a named gap in
# docs/governance.md. A new one is a decision to write down, not something to slip in.
KNOWN_GAPS: set[str] = set()


def test_every_table_says_which_class_removes_it_or_why_none_does():
    """Each model of every Cylch app is placed; every class named exists and removes a table."""
    assert coverage.coverage_problems() == []
    gaps = {label for label, answer in coverage.COVERAGE.items() if isinstance(answer, coverage.NotYet)}
    assert gaps == KNOWN_GAPS
    assert all(a.why.strip() for a in coverage.COVERAGE.values() if not isinstance(a, coverage.Covered))


def test_a_model_nobody_placed_is_named_by_the_system_check(monkeypatch):
    """Taking a table out of the coverage makes `cylch check` warn, naming it and the file, and
    the class that removed it as removing nothing."""
    monkeypatch.delitem(coverage.COVERAGE, "rules.LeadCoordinatorProposal")
    found = sorted(m.msg for m in run_checks() if m.id == "cylch.governance.W003")
    assert len(found) == 2
    assert found[0].startswith("retention class 'lead_proposals' removes no model")
    assert found[1].startswith("rules.LeadCoordinatorProposal has no retention answer") and "coverage.py" in found[1]


# --- lead-coordinator proposals -------------------------------------------------------------------


def _proposal(p, person, status=ProposalStatus.PROPOSED) -> LeadCoordinatorProposal:
    made = LeadCoordinatorProposal.objects.create(
        person=person, organisation=p.orgs.health_visiting, reason="under_five_health_visitor", local_authority=p.places.ceredigion,
        organisations_involved=[p.orgs.gp.pk, p.orgs.health_visiting.pk], created_at=timezone.now() - timedelta(days=3),
    )  # fmt: skip
    if status == ProposalStatus.DECLINED:
        proposal_decline(proposal=made, user=p.staff.team_manager, note="Family moving next week")
        made.refresh_from_db()
    return made


def test_a_decided_proposal_goes_on_the_childs_25th_birthday_and_a_waiting_one_never(prydderch):
    """A declined proposal about Alys is kept the day before her 25th birthday and due on it;
    one still waiting for a manager is open; the run deletes the declined one with a receipt
    whose digest is of the row and which holds no content."""
    p = prydderch
    declined = _proposal(p, p.alys, ProposalStatus.DECLINED)
    waiting = _proposal(p, p.twm)
    assert str(declined.public_id) not in due_ids(retention.due_list(today=ALYS_25 - DAY, classes=["lead_proposals"]),
                                                  "lead_proposals")  # fmt: skip
    listing = retention.due_list(today=ALYS_25, classes=["lead_proposals"])
    assert due_ids(listing, "lead_proposals") == {str(declined.public_id)}
    assert listing.open["lead_proposals"] == 1  # Twm's, waiting
    sha = canonical_sha256([declined])

    run = retention.retention_run(today=ALYS_25, classes=["lead_proposals"])
    assert run.status == RunStatus.COMPLETED, run.error
    assert list(LeadCoordinatorProposal.objects.values_list("pk", flat=True)) == [waiting.pk]
    removal = Removal.objects.get(record_class="lead_proposals")
    entry = AuditEntry.objects.get(seq=removal.audit_seq)
    assert entry.detail["sha256"] == sha and entry.detail["rule"] == "children"
    assert "moving" not in json.dumps(entry.detail).lower()
    assert audit_verify().ok


def test_a_legal_hold_on_the_child_keeps_her_proposal(prydderch):
    p = prydderch
    declined = _proposal(p, p.alys, ProposalStatus.DECLINED)
    retention.hold_place(person=p.alys, reason="Claim against the council", reference="CL-1", actor_label="test")
    listing = retention.due_list(today=ALYS_25, classes=["lead_proposals"])
    assert due_ids(listing, "lead_proposals", retention.HELD) == {str(declined.public_id)}
    retention.retention_run(today=ALYS_25, classes=["lead_proposals"])
    assert LeadCoordinatorProposal.objects.filter(pk=declined.pk).exists()


# --- sign-in attempts -------------------------------------------------------------------------------


def test_a_days_sign_in_attempts_go_a_year_later_with_one_receipt_and_todays_are_never_due(db, settings):
    """Three attempts made a year and a day ago are one record, removed with one audit entry; an
    attempt made today stays whatever the schedule says, because the throttle reads it."""
    for name in ("ceri", "ceri", "nobody"):
        sign_in_attempt_record(username=name, ip_address="192.0.2.7", succeeded=False)
    old_day = timezone.localdate() - timedelta(days=400)
    noon = timezone.make_aware(timezone.datetime.combine(old_day, timezone.datetime.min.time())) + timedelta(hours=12)
    LoginAttempt.objects.update(at=noon)
    for _ in range(settings.CYLCH_LOGIN_MAX_FAILURES_PER_USER):
        sign_in_attempt_record(username="gwen", ip_address="192.0.2.8", succeeded=False)
    key = f"sign-ins-{old_day.isoformat()}"
    today = timezone.localdate()
    listing = retention.due_list(today=today, classes=["sign_in_attempts"])
    assert due_ids(listing, "sign_in_attempts") == {key}
    assert listing.open["sign_in_attempts"] == 1
    old = list(LoginAttempt.objects.filter(at=noon).order_by("pk"))
    sha = canonical_sha256(old)

    run = retention.retention_run(today=add_years(today, 5), classes=["sign_in_attempts"])
    assert run.status == RunStatus.COMPLETED, run.error
    assert not LoginAttempt.objects.filter(at=noon).exists()
    assert sign_in_throttled(username="gwen", ip_address=None)  # today's attempts are all still there
    removal = Removal.objects.get(record_class="sign_in_attempts")
    entry = AuditEntry.objects.get(seq=removal.audit_seq)
    assert removal.record_id == key and entry.detail["counts"] == {"access.loginattempt": 3}
    assert entry.detail["sha256"] == sha
    assert "ceri" not in json.dumps(entry.detail) and "192.0.2" not in json.dumps(entry.detail)
    assert audit_verify().ok and retention.redactions_verify().ok
    again = retention.retention_run(today=add_years(today, 5), classes=["sign_in_attempts"])
    assert sum(again.removed.values()) == 0


def test_a_day_of_sign_in_attempts_can_be_held(db):
    sign_in_attempt_record(username="ceri", ip_address="192.0.2.7", succeeded=False)
    day = date(2025, 1, 6)
    LoginAttempt.objects.update(at=timezone.make_aware(timezone.datetime(2025, 1, 6, 9, 0)))
    retention.hold_place(record_class="sign_in_attempts", record_id=f"sign-ins-{day}",
                         reason="Police inquiry into a break-in attempt", actor_label="test")  # fmt: skip
    retention.retention_run(today=date(2030, 1, 1), classes=["sign_in_attempts"])
    assert LoginAttempt.objects.count() == 1


# --- linkage models -----------------------------------------------------------------------------


def _model(version: str, active: bool) -> LinkageModelVersion:
    body = {"format": 1, "version": version, "splink": {"comparisons": ["weights"]}, "auto_link_weight": 8.0,
            "term_frequencies": {"surname": {"__min__": 1e-05, "prydderch": 4e-05}, "given_name": {"alys": 3e-05}}}  # fmt: skip
    return LinkageModelVersion.objects.create(version=version, model_json=json.dumps(body), active=active, records=9)


def test_a_retired_models_names_are_erased_two_years_on_and_its_weights_stay(db):
    """The model in use keeps its names (online matching reads them); the one it replaced loses its
    name tables two years after it was trained, keeps everything else, and its receipt's digest
    is of the names erased."""
    retired, active = _model("hub-1", False), _model("hub-2", True)
    today = timezone.localdate()
    assert not due_ids(
        retention.due_list(today=add_years(today, 2) - DAY, classes=["linkage_models"]), "linkage_models"
    )
    listing = retention.due_list(today=add_years(today, 2), classes=["linkage_models"])
    assert due_ids(listing, "linkage_models") == {f"linkage-model-{retired.pk}"}
    assert listing.open["linkage_models"] == 1

    run = retention.retention_run(today=add_years(today, 2), classes=["linkage_models"])
    assert run.status == RunStatus.COMPLETED, run.error
    retired.refresh_from_db()
    active.refresh_from_db()
    kept = json.loads(retired.model_json)
    assert kept["term_frequencies"] == {} and kept["splink"] == {"comparisons": ["weights"]}
    assert "prydderch" in active.model_json
    removal = Removal.objects.get(record_class="linkage_models")
    assert removal.action == "anonymised" and "prydderch" not in json.dumps(AuditEntry.objects.get(seq=removal.audit_seq).detail)  # fmt: skip
    again = retention.retention_run(today=add_years(today, 3), classes=["linkage_models"])
    assert sum(again.removed.values()) == 0


def test_the_new_classes_are_in_the_schedule_with_a_source():
    for key in ("lead_proposals", "sign_in_attempts", "linkage_models", "departed_users"):
        rules = retention.schedule().classes[key]
        assert rules.enabled and rules.action == CLASSES[key].action
        assert all(r.source and r.assumption for r in rules.rules if r.id not in {"looked_after", "looked_after_died", "adopted"})  # fmt: skip


def test_an_account_switched_off_is_stamped_and_switched_on_again_is_not(prydderch):
    user = prydderch.staff.gp
    assert user.deactivated_at is None
    user.is_active = False
    user.save(update_fields=["is_active"])
    user.refresh_from_db()
    first = user.deactivated_at
    assert first is not None
    user.save()  # saved again while off: the moment it was switched off stays
    user.refresh_from_db()
    assert user.deactivated_at == first
    user.is_active = True
    user.save()
    user.refresh_from_db()
    assert user.deactivated_at is None


def test_a_departed_users_account_is_erased_eight_years_after_it_was_switched_off(prydderch):
    """The account keeps its row, organisation and role, and the records it made still point at
    it; its name, email, phone, job title, password and two-factor devices go, with one receipt
    whose digest is of what was erased. An active account is never due; a second run does nothing."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from cylch.events.models import Event
    from tests import factories

    leaver = prydderch.staff.health_visitor
    TOTPDevice.objects.create(user=leaver, name="phone")
    event = factories.event(organisation=prydderch.orgs.health_visiting, person=prydderch.alys, recorded_by=leaver,
                            code="health.appointment.was_not_brought", details={"service": "health_visiting"})  # fmt: skip
    leaver.is_active = False
    leaver.save()
    off = timezone.localdate(leaver.deactivated_at)
    assert not due_ids(retention.due_list(today=add_years(off, 8) - DAY, classes=["departed_users"]), "departed_users")
    listing = retention.due_list(today=add_years(off, 8), classes=["departed_users"])
    assert due_ids(listing, "departed_users") == {f"user-{leaver.pk}"}
    assert listing.open["departed_users"] >= 1  # the active accounts
    run = retention.retention_run(today=add_years(off, 8), classes=["departed_users"])
    assert run.status == RunStatus.COMPLETED, run.error
    leaver.refresh_from_db()
    assert leaver.username == f"departed-{leaver.pk}" and not leaver.has_usable_password()
    assert (leaver.first_name, leaver.last_name, leaver.email, leaver.phone, leaver.job_title) == ("", "", "", "", "")
    assert leaver.organisation == prydderch.orgs.health_visiting and leaver.role == "health-visitor"
    assert not TOTPDevice.objects.filter(user=leaver).exists()
    assert Event.objects.get(pk=event.pk).recorded_by_id == leaver.pk
    removal = Removal.objects.get(record_class="departed_users")
    assert removal.action == "anonymised" and "Nia" not in json.dumps(
        AuditEntry.objects.get(seq=removal.audit_seq).detail
    )
    assert prydderch.staff.gp.__class__.objects.get(pk=prydderch.staff.gp.pk).first_name  # the others untouched
    again = retention.retention_run(today=add_years(off, 20), classes=["departed_users"])
    assert sum(again.removed.values()) == 0
    assert audit_verify().ok
