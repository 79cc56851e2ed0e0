"""The world the route matrix (``test_route_matrix.py``) requests pages and API operations in.

Two sides, built through the service functions as production code builds them:

* **mine**: Ceredigion, in the Mid and West Wales board area. One signed-in user per role,
  each in an organisation of the kind the role works in (the Prydderch household's agencies
  where the family has one of that kind; children's services' four roles and the system
  administrator share Ceredigion children's services, as in the demo). Every one of those
  organisations is allocated to **Alys**, so every casework role may open her record. The
  child protection process is about **Cadi Bowen**, another Ceredigion child, known only to
  the GP, the health visitors, the school and the police: those agencies and children's
  services take part, the others do not.
* **theirs**: Gwynedd, in the North Wales board area, with its own children's services, GP,
  police and board. **Heledd Cwmcarnwyllt** and her mother live there; nobody on the mine
  side knows them. Every kind of record the routes show exists on this side too, each holding
  a distinctive string (``secrets``) that no response to a mine-side user may contain.

``refs[side][key]`` is what goes into a URL for that record; ``secrets[side][key]`` the
strings the record's content is recognised by. Identity secrets (Heledd's name and date of
birth) are kept apart: a casework role opening a person it has no relationship with sees who
the person is, never what is recorded about them (``docs/access.md``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.test import override_settings
from django.utils import timezone

from cylch.access.models import ApiToken, BoardArea, LocalAuthority, Organisation, User
from cylch.access.roles import OrganisationKind, Role
from cylch.access.selectors import Viewer, access_person
from cylch.access.services import api_token_create
from cylch.chronology.voice import record_voice, story_save
from cylch.events import record_forms
from cylch.events.csv_intake import import_csv
from cylch.identity.linking import review_raise
from cylch.identity.models import AgencyRecord, FamilyConflict, MatchReview, Relationship, ReviewReason
from cylch.identity.services import agency_record_upsert, household_add_member, household_create, relationship_add
from cylch.insight import periods
from cylch.notify.models import Notification
from cylch.protection import meetings, plans, services
from cylch.protection.models import Decision, Enquiry, InviteeKind, MeetingKind, PlanKind
from cylch.reports.challenges import challenge_raise
from cylch.reports.models import Outcome
from cylch.reports.services import SubjectIn, report_decide, report_submit
from cylch.reviews import services as reviews
from cylch.reviews.models import Incident
from cylch.rules.models import Alert, LeadCoordinatorProposal
from tests import factories
from tests.factories import at

# Roles that sign in (the system role is an API token, not a person).
USER_ROLES = [r.value for r in Role if r != Role.SYSTEM]
CHILDRENS_SERVICES_ROLES = {Role.FRONT_DOOR, Role.SOCIAL_WORKER, Role.TEAM_MANAGER, Role.CONFERENCE_CHAIR, Role.ADMIN}
BOARD_USER_ROLES = {Role.BOARD_ANALYST, Role.REVIEW_PANEL}
WNB = "health.appointment.was_not_brought"

# Heledd: the theirs-side child. Her name and date of birth are what a casework role outside
# her circle may see on her record's pages; nothing else about her may reach a mine-side user.
HELEDD = {"given_name": "Heledd", "family_name": "Cwmcarnwyllt", "date_of_birth": "2018-03-17"}
HELEDD_NHS = factories.nhs_number("943476564")
HELEDD_ADDRESS = "7 Lon Gyfrinachol"


@dataclass
class World:
    users: dict[str, User]
    sessions: dict[str, str]  # role -> session key of a signed-in session
    tokens: dict[str, str]  # caller -> bearer token
    refs: dict[str, dict[str, str]] = field(default_factory=lambda: {"mine": {}, "theirs": {}})
    secrets: dict[str, dict[str, list[str]]] = field(default_factory=lambda: {"mine": {}, "theirs": {}})
    identity: list[str] = field(default_factory=list)  # Heledd's name and date of birth, as pages print them
    objects: dict[str, Any] = field(default_factory=dict)

    def put(self, side: str, key: str, ref: Any, *secrets: str) -> None:
        self.refs[side][key] = str(ref)
        self.secrets[side][key] = [s for s in secrets if s]

    @property
    def theirs_secrets(self) -> list[str]:
        return sorted({s for values in self.secrets["theirs"].values() for s in values})


def days_ago(n: int) -> date:
    return timezone.localdate() - timedelta(days=n)


def _session_for(user: User) -> str:
    """A signed-in session, as ``Client.force_login`` makes one, kept for the whole module."""
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "cylch.access.backends.UserBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store["cylch_started"] = int(timezone.now().timestamp())
    store["cylch_touched"] = store["cylch_started"]  # so a GET does not move the idle expiry on
    store.save()
    return store.session_key


def _board(code: str, area: BoardArea, name: str) -> Organisation:
    board = factories.organisation(code=code, kind=OrganisationKind.SAFEGUARDING_BOARD, name_en=name)
    board.board_area = area  # boards have a board area and no local authority (no service for places yet)
    board.save(update_fields=["board_area"])
    return board


# --- the process, through its services (as tests/test_protection_documents.py builds it) -----------


def _registered(*, child, social_worker: User, chair: User, parts: list[services.Participant], plan_words: str,
                record: str, report_org: Organisation, report_user: User, action_owner: Organisation):  # fmt: skip
    """The child's episode: strategy, enquiry, an initial conference that registered the child,
    an agency report, and the plan with one action."""
    episode = services.open_episode(child=child, user=social_worker)
    strategy = episode.meetings.get(kind=MeetingKind.STRATEGY, held_at__isnull=True)
    services.record_strategy(strategy, user=social_worker, data=services.StrategyInput(
        held_at=at(days_ago(20), 10), format="virtual", participants=parts, information_shared="Shared.",
        decision=Decision.SECTION_47, reasons="Reasonable cause to suspect significant harm."))  # fmt: skip
    services.conclude_enquiry(episode.enquiries.get(), user=social_worker, outcome=Enquiry.Outcome.AT_RISK,
                              findings="Neglect substantiated.", concluded_on=days_ago(15), child_seen_alone=True)  # fmt: skip
    episode.refresh_from_db()
    icpc = episode.meetings.get(kind=MeetingKind.INITIAL)
    meetings.send_invitations(icpc, user=social_worker)
    meetings.submit_report(icpc.invitees.get(organisation=report_org), user=report_user, text=f"Report: {record}")
    attended = {i.pk: i.kind != InviteeKind.PARENT for i in icpc.invitees.filter(removed_at__isnull=True)}
    meetings.record_conference(icpc, user=chair, data=meetings.ConferenceInput(
        held_at=at(days_ago(12), 14), format="hybrid", language="en", attended=attended, decision=Decision.REGISTER,
        categories=["neglect"], reasons=f"Continuing risk: {record}", record=record))  # fmt: skip
    plan = episode.plans.get(kind=PlanKind.CSPP)
    plans.save_plan(plan, user=social_worker, text=plans.PlanText(
        worries=plan_words, outcomes="Breakfast every day.", child_can_do="Tell a teacher.",
        contingency="Strategy discussion."))  # fmt: skip
    action = plans.add_action(plan, user=social_worker, text=f"Action: {plan_words}", owner=action_owner,
                              owner_name="Named lead", due_on=timezone.localdate() + timedelta(days=14))  # fmt: skip
    icpc.refresh_from_db()
    episode.refresh_from_db()
    return episode, icpc, plan, action


def _put_process(world: World, side: str, episode, icpc, plan, action, report_org, *secrets: str) -> None:
    world.put(side, "episode", episode.public_id, *secrets)
    world.put(side, "meeting", icpc.public_id, *secrets)
    world.put(side, "invitee", icpc.invitees.get(organisation=report_org).public_id, *secrets)
    world.put(side, "parent_invitee", icpc.invitees.get(kind=InviteeKind.PARENT).public_id, *secrets)
    world.put(side, "plan", plan.public_id, *secrets)
    world.put(side, "action", action.public_id, *secrets)
    world.put(side, "process_child", episode.child.public_id, *secrets)


def _reports(world: World, side: str, *, child, maker: User, decider: User, words: str) -> None:
    """Three reports by ``maker`` about ``child``: waiting (said to be in immediate danger),
    decided, and decided with the maker's challenge open."""

    def submit(n: int, danger: bool = False):
        return report_submit(channel="practitioner", children=[SubjectIn(person=child)], maker=maker,
                             concern_codes=["social_care.neglect.concern"], what_happened=f"{words} ({n})",
                             immediate_danger=danger)  # fmt: skip

    waiting = submit(1, danger=True)
    decided = report_decide(report=submit(2), user=decider, outcome=Outcome.EARLY_HELP,
                            rationale=f"Below threshold. {words}")  # fmt: skip
    challenged = report_decide(report=submit(3), user=decider, outcome=Outcome.EARLY_HELP,
                               rationale="Below threshold for now.")  # fmt: skip
    challenge = challenge_raise(report=challenged, user=maker, reason=f"I remain concerned: {words} again.")
    world.put(side, "report", waiting.reference, words)
    world.put(side, "decided_report", decided.reference, words)
    world.put(side, "challenged_report", challenged.reference, words)
    world.put(side, "challenge", challenge.public_id, words)
    world.objects[f"{side}.reports"] = (waiting, decided, challenged, challenge)


def _alert(world: World, side: str, *, child, orgs: list[Organisation], users: list[User]) -> None:
    """Two missed appointments by two agencies raise the repeated was-not-brought alert and a
    lead-coordinator proposal (an under-five with no social worker)."""
    for days, org, user in zip((40, 12), orgs, users, strict=True):
        factories.event(organisation=org, person=child, code=WNB, occurred_at=timezone.now() - timedelta(days=days),
                        details={"service": "gp"}, recorded_by=user, summary=f"Missed: {child.family_name}")  # fmt: skip
    alert = Alert.objects.get(rule_id="was-not-brought-repeated", children=child)
    world.put(side, "alert", alert.public_id, f"Missed: {child.family_name}")
    proposal = LeadCoordinatorProposal.objects.get(person=child)
    world.put(side, "proposal", proposal.public_id)  # what it shows is the child's name


def _import(world: World, side: str, org: Organisation, user: User, words: str) -> None:
    header = "external_id,code,occurred_at,local_id,given_name,family_name,details.service\n"
    row = f"{words}-1,{WNB},2026-10-01 09:30,{words}-7,{words},{words},gp\n"
    run = import_csv(organisation=org, data=(header + row).encode(), filename=f"{words}.csv", actor=user)
    world.put(side, "import_run", run.public_id, f"{words}.csv")


def _match_review(world: World, side: str, org: Organisation, given: str, family: str, town: str) -> None:
    """Two records of one organisation that might be one child, for a person to decide."""
    for n in (1, 2):
        born = f"2017-05-0{n}"
        agency_record_upsert(organisation=org, local_id=f"MR-{family}-{n}",
                             data={"given_name": given, "family_name": family, "date_of_birth": born, "town": town})  # fmt: skip
    a, b = sorted(AgencyRecord.objects.get(organisation=org, local_id=f"MR-{family}-{n}").pk for n in (1, 2))
    # Online linkage may already have asked a person about the pair; otherwise ask now.
    review = review_raise(record_a=a, record_b=b, weight=2.5, probability=0.85, model_version="matrix",
                          reason=ReviewReason.UNCERTAIN) or MatchReview.objects.get(record_a_id=a, record_b_id=b)  # fmt: skip
    assert review.status == "open", review
    world.put(side, "match_review", review.pk, family)


def _family_conflict(world: World, side: str, *, org: Organisation, la: LocalAuthority, family: str) -> None:
    """A child living in the authority recorded with three parents: a conflict to decide."""
    child = agency_record_upsert(organisation=org, local_id=f"FC-{family}", data={
        "given_name": "Mabli", "family_name": family, "date_of_birth": "2015-02-02"}).person  # fmt: skip
    home = household_create(address_line=f"1 Heol {family}", town=la.name_en, local_authority=la)
    household_add_member(household=home, person=child, from_date=date(2015, 2, 2))
    for n, given in enumerate(("Nest", "Dilys", "Begw"), start=1):
        parent = agency_record_upsert(organisation=org, local_id=f"FC-{family}-{n}", data={
            "given_name": given, "family_name": family, "date_of_birth": f"198{n}-01-01"}).person  # fmt: skip
        relationship_add(person=parent, kind="parent", relative=child, source_organisation=org)
    conflict = FamilyConflict.objects.get(person=child, resolved=False)
    rels = Relationship.objects.filter(relative=child, kind="parent").order_by("pk").values_list("pk", flat=True)
    world.put(side, "family_conflict", conflict.pk, family)
    world.put(side, "family_conflict_rels", ",".join(map(str, rels)))


def _household_twice(
    world: World, side: str, *, org: Organisation, la: LocalAuthority, family: str, postcode: str
) -> None:
    """Two households at one address, each lived in (a pair to merge), and a third pair already
    merged (to undo): /matching/households/."""
    from cylch.identity.households.merge import household_merge

    def lived_in(line: str, n: int):
        home = household_create(address_line=line, postcode=postcode, local_authority=la)
        person = agency_record_upsert(organisation=org, local_id=f"HT-{family}-{n}", data={
            "given_name": "Gwenllian", "family_name": family, "date_of_birth": f"200{n}-01-01"}).person  # fmt: skip
        household_add_member(household=home, person=person, from_date=date(2020, 1, 1))
        return home

    keep, other = lived_in(f"2 Heol {family}", 1), lived_in(f"2, heol {family}", 2)
    kept, merged = lived_in(f"3 Heol {family}", 3), lived_in(f"3 HEOL {family}", 4)
    household_merge(keep=kept, merged=merged, actor=None, reason="Route matrix world")
    world.put(side, "household_keep", keep.public_id, family)
    world.put(side, "household_other", other.public_id, family)
    world.put(side, "household_merged", merged.public_id, family)


def _rights_request(world: World, side: str, *, person, user: User, words: str) -> None:
    """A request the person made, logged by the authority's team manager: /rights/requests/."""
    from cylch.governance.rights_requests import request_record

    made = request_record(user=user, person_id=person.public_id, kind="access", requested_by_name=f"{words} asker",
                          requester_relationship="self", received_on=days_ago(3), details=f"Request: {words}")  # fmt: skip
    world.put(side, "rights_request", made.public_id, f"Request: {words}")


def _voice(world: World, side: str, *, child, user: User, words: str) -> None:
    access = access_person(Viewer.for_user(user), child.public_id)
    story_save(access=access, user=user, summary=f"Story: {words}")
    wish = record_voice(access=access, user=user, kind="wish", words=f"Wish: {words}", occurred_at=at(days_ago(3)),
                        capture={"seen_alone": True, "location": "school", "method": "conversation", "language": "en",
                                 "advocate_present": False}, topic="family_contact")  # fmt: skip
    world.put(side, "wish", wish.public_id, f"Wish: {words}", f"Story: {words}")


def _review(world: World, side: str, *, area: BoardArea, child, user: User, words: str) -> None:
    referral = reviews.refer(board_area=area, child=child, incident=Incident.LIFE_THREATENING,
                             incident_on=days_ago(40), user=user, referred_on=days_ago(35), summary=words)  # fmt: skip
    decided = reviews.refer(board_area=area, child=child, incident=Incident.DIED, incident_on=days_ago(60), user=user,
                            referred_on=days_ago(55), summary=f"{words} (decided)")  # fmt: skip
    review = reviews.decide(decided, user=user, review_type="cpr_concise", reasons=f"Criteria met: {words}",
                            scope_from=days_ago(300))  # fmt: skip
    world.put(side, "referral", referral.public_id, words)
    world.put(side, "review", review.public_id, words)
    world.put(side, "milestone", review.milestones.exclude(step="decision").order_by("pk").first().public_id, words)
    world.put(side, "milestone_day", days_ago(1).strftime("%d/%m/%Y"))  # after the referral, never in the future


def _mover(world: World, gp: Organisation, user: User, la: LocalAuthority) -> None:
    """Nerys, whose GP gave a new address after she began living where Cylch holds her: the move
    a person may record (identity/move_views.py). The theirs side's is Heledd's own record, at
    the address she lives at."""
    nerys = agency_record_upsert(organisation=gp, local_id="GP-3001", actor=user, data={
        "given_name": "Nerys", "family_name": "Lloyd", "date_of_birth": "2015-03-03", "address_line": "1 Hen Heol",
        "town": "Aberaeron", "postcode": "SA46 0AB"}).person  # fmt: skip
    home = household_create(address_line="1 Hen Heol", town="Aberaeron", postcode="SA46 0AB", local_authority=la)
    household_add_member(household=home, person=nerys, from_date=date(2019, 1, 1))
    moved = agency_record_upsert(organisation=gp, local_id="GP-3001", actor=user, data={
        "address_line": "5 Stryd Newydd", "town": "Aberystwyth", "postcode": "SY23 1AB"}).record  # fmt: skip
    world.put("mine", "mover", nerys.public_id)
    world.put("mine", "mover_record", moved.public_id)
    world.put("mine", "mover_address", "5 Stryd Newydd, Aberystwyth, SY23 1AB")
    # Alys's GP record has no first line: an address nobody gave.
    world.put("mine", "agreeing_record", AgencyRecord.objects.get(organisation=gp, local_id="GP-1003").public_id)
    heledd = AgencyRecord.objects.get(organisation__code="meddygfa-bala", local_id="BALA-1")
    world.put("theirs", "mover", world.refs["theirs"]["person"])
    world.put("theirs", "mover_record", heledd.public_id)
    world.put("theirs", "mover_address", f"{HELEDD_ADDRESS}, Y Bala, LL23 7AA")


# --- the world ------------------------------------------------------------------------------


def build() -> World:
    # Online linkage would score each new record against the index: slow, and beside the point
    # here (the one review task the matrix needs is raised directly).
    with override_settings(CYLCH_ONLINE_LINKAGE=False):
        return _build()


def _build() -> World:
    p = factories.prydderch_household()
    ceredigion = p.places.ceredigion
    north = BoardArea.objects.create(code="north-wales", name_en="North Wales", name_cy="Gogledd Cymru")
    gwynedd = LocalAuthority.objects.create(code="gwynedd", name_en="Gwynedd", name_cy="Gwynedd", board_area=north)

    # Mine: one user per role, in an organisation of the kind the role works in.
    known = {
        Role.HEALTH_VISITOR: p.orgs.health_visiting,
        Role.GP: p.orgs.gp,
        Role.SCHOOL_SAFEGUARDING_LEAD: p.orgs.school,
        Role.POLICE_PPN: p.orgs.police,
        Role.HOUSING_OFFICER: p.orgs.housing,
    }
    board = _board("mww-board", p.places.mid_and_west_wales, "Mid and West Wales Safeguarding Board")
    orgs: dict[str, Organisation] = {}
    users: dict[str, User] = {}
    for role in USER_ROLES:
        if role in CHILDRENS_SERVICES_ROLES:
            org = p.orgs.childrens_services
        elif role in BOARD_USER_ROLES:
            org = board
        else:
            org = known.get(role) or factories.organisation_for_role(
                role, code=f"rm-{role}", local_authority=ceredigion
            )
        orgs[role] = org
        users[role] = factories.demo_practitioner(username=f"rm-{role}", role=role, organisation=org,
                                                  first_name="Matrix", last_name=role.title())  # fmt: skip
    admin = users[Role.ADMIN]
    admin.is_staff = admin.is_superuser = True  # the system administrator runs the Django admin, as in the demo
    admin.save(update_fields=["is_staff", "is_superuser"])
    for org in {o.pk: o for role, o in orgs.items() if role not in BOARD_USER_ROLES}.values():
        factories.allocated(p.alys, org)

    # Theirs: Gwynedd, in another board area, and nobody on the mine side knows the family.
    t_cs = factories.organisation(code="gwynedd-cs", kind=OrganisationKind.LA_CHILDRENS_SERVICES,
                                  name_en="Gwynedd Children's Services", local_authority=gwynedd)  # fmt: skip
    t_gp = factories.organisation(code="meddygfa-bala", kind=OrganisationKind.GP_PRACTICE, local_authority=gwynedd)
    t_hv = factories.organisation(code="gwynedd-hv", kind=OrganisationKind.HEALTH_VISITING, local_authority=gwynedd)
    t_police = factories.organisation(code="north-wales-police", kind=OrganisationKind.POLICE, local_authority=gwynedd)
    t_board = _board("nw-board", north, "North Wales Safeguarding Board")

    def their(role: str, org: Organisation) -> User:
        return factories.demo_practitioner(username=f"theirs-{role}", role=role, organisation=org)

    t_sw, t_chair = their(Role.SOCIAL_WORKER, t_cs), their(Role.CONFERENCE_CHAIR, t_cs)
    t_gp_user, t_hv_user = their(Role.GP, t_gp), their(Role.HEALTH_VISITOR, t_hv)
    t_panel = their(Role.REVIEW_PANEL, t_board)

    world = World(users=users, sessions={r: _session_for(u) for r, u in users.items()}, tokens={})
    world.objects.update(p=p, orgs=orgs, gwynedd=gwynedd)

    # --- theirs: Heledd, her mother and her baby brother -------------------------------------------
    def t_record(local_id: str, **data):
        return agency_record_upsert(organisation=t_gp, local_id=local_id, data=data, actor=t_gp_user).person

    heledd = t_record("BALA-1", **HELEDD, sex="female", nhs_number=HELEDD_NHS, address_line=HELEDD_ADDRESS,
                      town="Y Bala", postcode="LL23 7AA")  # fmt: skip
    mother = t_record("BALA-2", given_name="Rhiannon", family_name="Cwmcarnwyllt", date_of_birth="1990-01-05")
    gwion = t_record("BALA-3", given_name="Gwion", family_name="Cwmcarnwyllt", date_of_birth="2024-02-02")
    agency_record_upsert(organisation=t_hv, local_id="HV-BALA-3", actor=t_hv_user,
                         data={"given_name": "Gwion", "family_name": "Cwmcarnwyllt", "date_of_birth": "2024-02-02"})  # fmt: skip
    home = household_create(address_line=HELEDD_ADDRESS, town="Y Bala", postcode="LL23 7AA", local_authority=gwynedd)
    for member in (heledd, mother, gwion):
        household_add_member(household=home, person=member, from_date=date(2020, 1, 1))
    for child in (heledd, gwion):
        relationship_add(person=mother, kind="parent", relative=child, parental_responsibility=True, lives_with=True)
    world.identity = ["Heledd", "Cwmcarnwyllt", "17 March 2018", "17/03/2018"]
    event = factories.event(organisation=t_gp, person=heledd, code="health.appointment.was_not_brought",
                            occurred_at=at(days_ago(30)), details={"service": "gp"}, recorded_by=t_gp_user,
                            summary="Gwenynfa: missed the asthma review")  # fmt: skip
    world.put("theirs", "person", heledd.public_id, "Gwenynfa: missed the asthma review", HELEDD_NHS,
              HELEDD_ADDRESS, "LL23 7AA")  # fmt: skip
    world.put("theirs", "event", event.public_id, "Gwenynfa: missed the asthma review")
    _voice(world, "theirs", child=heledd, user=t_sw, words="Gwenynfa wants to live with her nain")
    episode, icpc, plan, action = _registered(
        child=heledd, social_worker=t_sw, chair=t_chair, report_org=t_gp, report_user=t_gp_user, action_owner=t_gp,
        parts=[services.Participant(t_cs, "Social worker"), services.Participant(t_police, "DC Jones"),
               services.Participant(t_gp, "Dr Bala")],
        plan_words="Gwenynfa plan: Heledd is hungry at school", record="Gwenynfa conference record")  # fmt: skip
    _put_process(world, "theirs", episode, icpc, plan, action, t_gp, "Gwenynfa plan", "Gwenynfa conference record")
    _reports(world, "theirs", child=heledd, maker=t_gp_user, decider=t_sw, words="Gwenynfa report")
    _alert(world, "theirs", child=gwion, orgs=[t_gp, t_hv], users=[t_gp_user, t_hv_user])
    _import(world, "theirs", t_gp, t_gp_user, "Gwenynfaimport")
    _match_review(world, "theirs", t_gp, "Tegwen", "Gwenynfabach", "Y Bala")
    _family_conflict(world, "theirs", org=t_gp, la=gwynedd, family="Gwenynfateulu")
    _household_twice(world, "theirs", org=t_gp, la=gwynedd, family="Gwenynfacartref", postcode="LL23 7AB")
    _review(world, "theirs", area=north, child=heledd, user=t_panel, words="Gwenynfa review")
    _rights_request(world, "theirs", person=heledd, user=their(Role.TEAM_MANAGER, t_cs), words="Gwenynfa")
    world.put("theirs", "area", "gwynedd")

    # --- mine: Alys (everyone's), Cadi (in the process), Twm (an alert) -----------------------------
    u = users
    alys_event = factories.event(organisation=p.orgs.gp, person=p.alys, code="health.appointment.was_not_brought",
                                 occurred_at=at(days_ago(30)), details={"service": "gp"}, recorded_by=u[Role.GP],
                                 summary="Mefusen: missed the eye test")  # fmt: skip
    world.put("mine", "person", p.alys.public_id, "Mefusen: missed the eye test", factories.NHS["alys"])
    world.put("mine", "event", alys_event.public_id, "Mefusen: missed the eye test")
    _voice(world, "mine", child=p.alys, user=u[Role.SOCIAL_WORKER], words="Mefusen wants a dog")

    def gp_record(local_id: str, **data):
        return agency_record_upsert(organisation=p.orgs.gp, local_id=local_id, data=data, actor=u[Role.GP]).person

    cadi = gp_record("GP-2001", given_name="Cadi", family_name="Bowen", date_of_birth="2016-06-01",
                     nhs_number=factories.nhs_number("943476566"), postcode="SA46 0AA")  # fmt: skip
    lowri = gp_record("GP-2002", given_name="Lowri", family_name="Bowen", date_of_birth="1988-08-08")
    for org, local_id in ((p.orgs.school, "PUPIL-CADI"), (p.orgs.health_visiting, "HV-CADI")):
        agency_record_upsert(organisation=org, local_id=local_id,
                             data={"given_name": "Cadi", "family_name": "Bowen", "date_of_birth": "2016-06-01",
                                   "nhs_number": factories.nhs_number("943476566")})  # fmt: skip
    cadi_home = household_create(address_line="12 Heol y Bont", town="Aberaeron", postcode="SA46 0AA",
                                 local_authority=ceredigion)  # fmt: skip
    for member in (cadi, lowri):
        household_add_member(household=cadi_home, person=member, from_date=date(2019, 1, 1))
    relationship_add(person=lowri, kind="parent", relative=cadi, parental_responsibility=True, lives_with=True)
    factories.event(organisation=p.orgs.police, person=cadi, code=factories.code_with_sensitivity("police"),
                    recorded_by=u[Role.POLICE_PPN], occurred_at=at(days_ago(25)))  # fmt: skip
    episode, icpc, plan, action = _registered(
        child=cadi, social_worker=u[Role.SOCIAL_WORKER], chair=u[Role.CONFERENCE_CHAIR], report_org=p.orgs.gp,
        report_user=u[Role.GP], action_owner=p.orgs.school,
        parts=[services.Participant(p.orgs.childrens_services, "Gwen"), services.Participant(p.orgs.police, "DC Parry"),
               services.Participant(p.orgs.gp, "Dr Owen"), services.Participant(p.orgs.school, "Bethan"),
               services.Participant(p.orgs.health_visiting, "Nia")],
        plan_words="Mefusen plan: Cadi is hungry at school", record="Mefusen conference record")  # fmt: skip
    _put_process(world, "mine", episode, icpc, plan, action, p.orgs.gp, "Mefusen plan", "Mefusen conference record")
    _reports(world, "mine", child=p.alys, maker=u[Role.GP], decider=u[Role.SOCIAL_WORKER], words="Mefusen report")
    _alert(world, "mine", child=p.twm, orgs=[p.orgs.gp, p.orgs.health_visiting],
           users=[u[Role.GP], u[Role.HEALTH_VISITOR]])  # fmt: skip
    _import(world, "mine", p.orgs.gp, u[Role.GP], "Mefusenimport")
    _match_review(world, "mine", p.orgs.gp, "Elin", "Mefusenfach", "Aberaeron")
    _family_conflict(world, "mine", org=p.orgs.gp, la=ceredigion, family="Mefusenteulu")
    _household_twice(world, "mine", org=p.orgs.gp, la=ceredigion, family="Mefusencartref", postcode="SY23 9ZZ")
    _review(world, "mine", area=p.places.mid_and_west_wales, child=p.alys, user=u[Role.REVIEW_PANEL],
            words="Mefusen review")  # fmt: skip
    _rights_request(world, "mine", person=p.alys, user=u[Role.TEAM_MANAGER], words="Mefusen")
    _mover(world, p.orgs.gp, u[Role.GP], ceredigion)
    world.put("mine", "area", "ceredigion")
    world.put("mine", "person_name", "Alys Prydderch")
    world.put("theirs", "person_name", "Heledd Cwmcarnwyllt")
    world.put("mine", "la_pk", ceredigion.pk)
    # Recording on the record: the signed token the form carries (one showing of the form).
    for side in ("mine", "theirs"):
        world.put(side, "record_token", record_forms.new_token())
    world.put("mine", "period", periods.recent("quarter", 2, timezone.localdate())[-1].key)

    # A notice each side's social worker was sent (the maker's challenge to their decision).
    for side, user in (("mine", u[Role.SOCIAL_WORKER]), ("theirs", t_sw)):
        notice = Notification.objects.filter(recipient=user).order_by("pk").first()
        world.put(side, "notice", notice.public_id, notice.body)

    # API callers: each mine-side organisation's system, and the theirs side's children's services.
    for role, org in orgs.items():
        caller = CALLERS_BY_ORG.get(org.code, role)
        if caller not in world.tokens:
            world.tokens[caller] = api_token_create(organisation=org, name="Route matrix")[1]
    # Marked as used just now (a day ahead, so however long the run), or each request would note
    # its use: a write the refused-requests-change-nothing check would see.
    ApiToken.objects.update(last_used_at=timezone.now() + timedelta(days=1))
    revoked, world.tokens["revoked"] = api_token_create(organisation=p.orgs.gp, name="Revoked")
    revoked.revoked_at = timezone.now()  # no service revokes a token yet (the admin does it)
    revoked.save(update_fields=["revoked_at"])
    return world


# Callers are named after the role whose organisation they speak for; shared organisations once.
CALLERS_BY_ORG = {"ceredigion-childrens-services": "childrens-services", "mww-board": "safeguarding-board"}
