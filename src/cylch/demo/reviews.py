"""Fictional safeguarding reviews for the demo: a national repository of coded reviews across the
six boards (enough for every table and chart of the thematic analysis), and reviews Cylch is
tracking now, at every stage, with reports, checklists and recommendations.

Every review here is invented. The coding follows the shape the thematic analysis found (TA
section 1 and tables 2-5): most children known to children's services and referred "below
threshold", many under one year old, parental mental health, substance misuse, domestic abuse
and ACEs occurring together. A shared "family adversity" factor makes those indicators co-occur
so the phi table and the map have something to show, as in the real reviews.
"""

from __future__ import annotations

import math
import random
from datetime import date, datetime, time, timedelta

from django.contrib.auth.hashers import make_password
from django.utils import timezone

from cylch.access.models import BoardArea, Organisation, User
from cylch.access.roles import Role
from cylch.protection.timescales import add_months
from cylch.reviews import quality, report, services
from cylch.reviews import recommendations as tracker
from cylch.reviews.models import (
    CodedReview,
    Incident,
    PreviousHistory,
    Recommendation,
    RecommendationUpdate,
    ReviewCode,
)

CODED_PER_BOARD = (7, 6, 5, 8, 6, 6)  # 38 in all, every board represented

# code: (base log-odds, loading on family adversity, loading on adolescence)
PARENT = {  # strongly tied to adversity: the TA found phi up to .76 between them (table 4)
    "parent.mental_health": (0.2, 4.0, 0.0),
    "parent.substance_misuse": (-0.2, 3.75, 0.0),
    "parent.criminal_history": (-0.7, 3.25, 0.0),
    "parent.aces": (-0.4, 4.5, 0.0),
    "parent.domestic_abuse": (0.1, 3.75, 0.0),
    "parent.young_parent": (-1.2, 1.5, -1.0),
    "parent.previously_looked_after": (-1.8, 2.25, 0.0),
}
CHILD = {
    "child.neglect": (-0.3, 1.2, -0.2),
    "child.cse": (-3.0, 0.3, 2.4),
    "child.emotional_abuse": (-1.2, 0.8, 0.6),
    "child.physical_abuse": (-1.0, 0.7, -0.3),
    "child.sexual_abuse": (-2.2, 0.2, 1.0),
    "child.mental_health": (-2.8, 0.2, 3.0),
    "child.physical_medical": (-1.3, 0.0, 0.0),
    "child.neurodiversity": (-2.0, 0.0, 1.2),
    "child.learning_disability": (-2.4, 0.0, 0.8),
    "child.looked_after": (-2.6, 0.8, 1.4),
    "child.bullying": (-3.2, 0.0, 2.2),
    "child.self_harm": (-3.0, 0.2, 3.0),
    "child.suicide_ideation": (-3.2, 0.2, 3.0),
    "child.missing_episodes": (-3.2, 0.4, 2.8),
    "child.aces": (-0.6, 1.2, 0.8),
    "child.low_self_esteem": (-3.0, 0.0, 2.4),
    "child.poor_home_conditions": (-0.9, 1.3, -0.4),
    "child.exposure_domestic_abuse": (-0.2, 1.6, 0.0),
}
THEMES = {
    "theme.transparency": 0.35, "theme.professional_curiosity": 0.55, "theme.previous_trauma": 0.4,
    "theme.accumulation_of_risk": 0.6, "theme.remit_safeguarding_lens": 0.35, "theme.siblings": 0.3,
    "theme.parental_unmet_needs": 0.45, "theme.fathers": 0.4, "theme.voice_recording": 0.5,
    "theme.voice_decisions": 0.3, "theme.escalation_referral": 0.45, "theme.coordination": 0.6,
    "theme.health_complexity": 0.5, "theme.workforce": 0.35, "theme.covid": 0.15, "theme.good_practice": 0.4,
    "finding.missed_health_appointments": 0.5,
}  # fmt: skip
# The other findings of the recommendations (TA figure 8: of 33 reviews, whole family 20,
# professional curiosity 18, child's voice 18, health information sharing 17). Drawn from their
# own random stream, so adding them left every other code of the demo as it was.
FINDINGS = {
    "finding.whole_family": 0.6, "finding.professional_curiosity": 0.55, "finding.child_voice": 0.55,
    "finding.health_information_sharing": 0.5,
}  # fmt: skip
HISTORY = [
    (PreviousHistory.BELOW_THRESHOLD, 18),
    (PreviousHistory.LOOKED_AFTER, 7),
    (PreviousHistory.REGISTER, 4),
    (PreviousHistory.NOT_KNOWN, 2),
    (PreviousHistory.ADOPTED, 1),
    (PreviousHistory.NOT_KNOWN_TO_CS, 2),
]
# Age at the incident in months: (low, high, weight), about the TA's table 2.
AGES = [(0, 4, 9), (4, 13, 5), (13, 36, 3), (36, 72, 3), (72, 156, 4), (156, 216, 9)]
INFANT_HARM = ["harm.sudi", "harm.fatal_physical_abuse", "harm.non_fatal_physical_abuse", "harm.fatal_neglect",
               "harm.non_fatal_neglect"]  # fmt: skip
OLDER_HARM = ["harm.suicide", "harm.cse_extrafamilial", "harm.non_fatal_emotional_abuse", "harm.csa_intrafamilial",
              "harm.other_medical", "harm.non_fatal_neglect"]  # fmt: skip
LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"


def _p(base: float, a: float, b: float, adversity: float, adolescence: float) -> float:
    return 1 / (1 + math.exp(-(base + a * adversity + b * adolescence)))


def _codes(rng: random.Random, months: int | None, history: str) -> set[str]:
    adversity = rng.gauss(0, 1)
    adolescence = 1.0 if months is not None and months >= 132 else (-0.5 if months is not None and months < 24 else 0.0)
    codes = {
        c for c, (base, a, b) in {**PARENT, **CHILD}.items() if rng.random() < _p(base, a, b, adversity, adolescence)
    }
    if history == PreviousHistory.LOOKED_AFTER:
        codes.add("child.looked_after")
    codes.add(rng.choice(OLDER_HARM if adolescence > 0 else INFANT_HARM))
    codes |= {t for t, p in THEMES.items() if rng.random() < p}
    agencies = {"agency.childrens_services"} if history != PreviousHistory.NOT_KNOWN_TO_CS else set()
    young = months is not None and months < 60
    for agency, p in (("agency.police", 0.6), ("agency.midwifery", 0.7 if young else 0.1),
                      ("agency.health_visiting", 0.8 if young else 0.1), ("agency.gp", 0.6), ("agency.hospital", 0.5),
                      ("agency.mental_health", 0.45), ("agency.education", 0.15 if young else 0.9),
                      ("agency.housing", 0.3), ("agency.substance_misuse", 0.3), ("agency.probation", 0.15)):  # fmt: skip
        if rng.random() < p:
            agencies.add(agency)
    return codes | agencies


def _summary(letter: str, months: int | None, gender: str, codes: set[str], incident: str) -> str:
    from cylch.reviews.coding.suggest import load_codebook

    book = load_codebook()
    if months is None:
        age = "a child whose age the review does not give"
    elif months == 0:
        age = "a baby under a month old"
    elif months < 24:
        age = f"a baby of {months} month{'' if months == 1 else 's'}"
    else:
        age = f"a child aged {months // 12}"
    found, themes = _labels(book, codes, "en")
    return (
        f"This review concerns Child {letter}, {age} ({gender or 'gender not stated'}), after {incident.lower()}. "
        + (f"Agencies knew of {', '.join(found)} in the family. " if found else "")
        + (f"The learning is about {', '.join(themes)}." if themes else "")
    )


# The incidents as the Welsh summary names them ("yn dilyn …": "following …").
INCIDENT_CY = {
    Incident.DIED: "marwolaeth y plentyn",
    Incident.LIFE_THREATENING: "anaf a allai beryglu bywyd y plentyn",
    Incident.IMPAIRMENT: "nam difrifol a pharhaol ar iechyd neu ddatblygiad y plentyn",
}
GENDER_CY = {"female": "merch", "male": "bachgen", "": "rhywedd heb ei nodi"}


def _summary_cy(letter: str, months: int | None, gender: str, codes: set[str], incident: Incident) -> str:
    """The summary in Welsh, as a board publishing in both languages would write it. The code
    book's labels follow a colon, where no mutation is called for; "â" mutates "Plentyn"."""
    from cylch.reviews.coding.suggest import load_codebook

    if months is None:
        age = "plentyn nad yw'r adolygiad yn nodi ei oed"
    elif months == 0:
        age = "babi o dan fis oed"
    elif months == 1:
        age = "babi mis oed"
    elif months == 2:
        age = "babi 2 fis oed"  # "dau fis": the mutation holds when the number is in figures
    elif months < 24:
        age = f"babi {months} mis oed"  # a number takes the singular: "3 mis oed"
    else:
        age = f"plentyn {months // 12} oed"
    found, themes = _labels(load_codebook(), codes, "cy")
    return (
        f"Mae'r adolygiad hwn yn ymwneud â Phlentyn {letter}, {age} ({GENDER_CY[gender]}), "
        f"yn dilyn {INCIDENT_CY[incident]}. "
        + (f"Roedd asiantaethau'n gwybod am y canlynol yn y teulu: {', '.join(found)}. " if found else "")
        + (f"Mae'r dysgu'n ymwneud â'r canlynol: {', '.join(themes)}." if themes else "")
    )


def _labels(book, codes: set[str], language: str) -> tuple[list[str], list[str]]:
    """The worries about the parents (at most four) and the themes (three), as the code book
    words them, each begun in lower case to sit mid-sentence ("covid-19" keeps its capital)."""

    def mid(code: str) -> str:
        label = book.label(code, language)
        return label[:1].lower() + label[1:]

    return (
        [mid(c) for c in sorted(codes) if c.startswith("parent.")][:4],
        [mid(c) for c in sorted(codes) if c.startswith("theme.")][:3],
    )


def _coded(rng: random.Random, board: BoardArea, n: int, as_of: date, findings: random.Random) -> list[CodedReview]:
    out = []
    kinds, weights = zip(*HISTORY, strict=True)
    for i in range(n):
        year = rng.randint(as_of.year - 8, as_of.year - 1)
        incident = date(year, rng.randint(1, 12), rng.randint(1, 28))
        referred = incident + timedelta(days=rng.randint(20, 240))
        signed = referred + timedelta(days=rng.randint(400, 900))
        if signed > as_of:
            signed = None
        published = signed + timedelta(days=rng.randint(20, 120)) if signed else None
        if published and published > as_of:
            published = None
        low, high, _w = rng.choices(AGES, [a[2] for a in AGES])[0]
        months = None if rng.random() < 0.15 else rng.randrange(low, high)
        history = rng.choices(kinds, weights)[0]
        codes = _codes(rng, months, history)
        codes |= {f for f, p in FINDINGS.items() if findings.random() < p}
        gender = rng.choice(["female", "male", "female", "male", ""])
        died = rng.random() < 0.55
        what = Incident.DIED if died else Incident.LIFE_THREATENING
        letter = LETTERS[i % len(LETTERS)]
        review_type = (
            "cpr_extended" if history in (PreviousHistory.LOOKED_AFTER, PreviousHistory.REGISTER) else "cpr_concise"
        )
        if year >= as_of.year - 1 and rng.random() < 0.4:
            review_type = "susr"
        entry = CodedReview.objects.create(
            board_area=board, reference=f"{board.code.upper()[:4]} {i + 1}/{year}", type=review_type,
            title=f"Child {letter}", incident_on=incident, referred_on=referred,
            learning_event_on=referred + timedelta(days=rng.randint(200, 500)) if signed else None,
            signed_off_on=signed, published_on=published, child_gender=gender, child_age_months=months,
            previous_history=history, public_summary=_summary(letter, months, gender, codes, str(what.label)),
            public_summary_cy=_summary_cy(letter, months, gender, codes, what),
            is_public=published is not None,
        )  # fmt: skip
        ReviewCode.objects.bulk_create(ReviewCode(coded_review=entry, code=c) for c in sorted(codes))
        out.append(entry)
    return out


# --- reviews Cylch is tracking ----------------------------------------------------------------

FULL_REPORT = {
    "outline": "A concise Child Practice Review commissioned by the board on the recommendation of its review "
    "sub-group, under the Working Together guidance. The period reviewed is the 12 months before the incident.",
    "circumstances": "Child Q, a baby boy, was taken to hospital with a head injury at 14 weeks old. Three services "
    "had each seen a part of the family's difficulties in the months before.",
    "child": "Boy, 14 weeks old at the incident. White Welsh.",
    "family_dynamic": "Mother (22) and her partner (27), who is not the baby's father; a half-sister aged 4 who "
    "lived with them at weekends.",
    "objectives": "Whether decisions followed the procedures; how well agencies worked together; whether decisions "
    "were child-centred and whole-family.",
    "learning_event": "Held over one day with twelve practitioners from health visiting, midwifery, the GP practice, "
    "police, housing and children's services. The GP practice could not attend and sent a written account.",
    "parallel_investigations": "A police investigation ran alongside; the review went ahead after agreement with "
    "the senior investigating officer.",
    "core_compliance": "Mostly compliant. Two missed health visitor contacts were not followed up as the procedure "
    "for 'was not brought' requires.",
    "core_inter_agency": "Each agency held part of the picture: housing knew of the cold flat, police of two "
    "standard-risk notices, health of the missed contacts. No one put them together.",
    "core_child_focused": "Decisions were made about the mother, not the household: the partner was never assessed.",
    "scrutiny": "The draft was debated at two panel meetings and challenged by the board's quality sub-group.",
    "actioned_changes": "The health board now flags a second missed contact to the GP and the MASH.",
}
# Part of the report in Welsh as well (the report is published in both): the signed-off and
# late reviews show a report partly bilingual, the page saying which sections wait for Welsh.
FULL_REPORT_CY = {
    "circumstances": "Aethpwyd â Phlentyn Q, bachgen bach, i'r ysbyty ag anaf i'w ben yn 14 wythnos oed. Roedd tri "
    "gwasanaeth wedi gweld rhan o anawsterau'r teulu yn ystod y misoedd cynt.",
    "child": "Bachgen, 14 wythnos oed adeg y digwyddiad. Gwyn Cymreig.",
    "family_dynamic": "Y fam (22) a'i phartner (27), nad ef yw tad y babi; hanner chwaer 4 oed a oedd yn byw gyda "
    "nhw ar benwythnosau.",
    "core_child_focused": "Gwnaed penderfyniadau am y fam, nid am yr aelwyd: ni chafodd y partner ei asesu erioed.",
    "actioned_changes": "Mae'r bwrdd iechyd bellach yn rhoi gwybod i'r meddyg teulu a'r MASH am ail gyswllt a gollwyd.",
}
FULL_ROWS = {
    "family_tree": [["Mother", "Mother", "22", "yes"], ["Partner", "Mother's partner", "27", "yes"],
                    ["Half-sister", "Sibling", "4", "weekends"]],
    "panel": [["Chair", "Independent chair", "Board", "Strategic"], ["Reviewer", "Lead reviewer", "Health board",
              "Operational"], ["Member", "Panel member", "Police", "Operational"]],
    "agency_involvement": [["Health visiting", "New-birth visit, two missed contacts", "Written account and interview"],
                           ["Police", "Two domestic abuse notices", "Written account"],
                           ["Housing", "Repairs request: no heating", "Discussion"]],
    "chronology": [["03/02", "Police: domestic abuse notice (standard)", "Shared with MASH; no further action"],
                   ["17/03", "Health visiting: was not brought", "Letter sent"],
                   ["02/04", "Housing: no heating reported", "Repair booked"]],
    "family_perspectives": [["Mother", "Interview with the reviewer", "She said nobody asked how she was coping."],
                            ["Maternal grandmother", "Telephone call", "She had been worried and did not know whom to tell."]],
    "learning_points": [["Soft signs held by different agencies were never added up.", "Three agencies, three months."],
                        ["The partner was invisible to services.", "No agency recorded his name."]],
    "reviewer_statements": [["R. Reviewer", "Reviewer", "yes", "01/03/2026"], ["I. Chair", "Chair of the panel", "", "01/03/2026"]],
}  # fmt: skip
RECOMMENDATIONS = [
    ("Health visiting tells the GP and the MASH of a second missed contact within five working days.",
     "Quarterly audit of 20 cases shows the notice sent in time.", "Health board", "operational", "regional",
     "immediate", ["finding.missed_health_appointments", "finding.health_information_sharing",
                                "theme.health_complexity"]),
    ("Every assessment names and assesses each adult living in the household, including partners.",
     "Case file audit: partners named and assessed in 9 of 10 files.", "Children's services", "operational", "local",
     "immediate", ["finding.whole_family", "theme.fathers", "theme.accumulation_of_risk"]),
    ("The board agrees a shared chronology for families known to more than two agencies.",
     "A shared chronology in use for every such family by the date due.", "Safeguarding board", "strategic",
     "regional", "planning", ["theme.coordination", "theme.accumulation_of_risk"]),
    ("Police copy every domestic abuse notice about a household with a baby to the health visitor.",
     "Notices reach health visiting within a day in a dip sample.", "Police", "operational", "regional", "immediate",
     ["theme.coordination"]),
]  # fmt: skip


RECOMMENDATIONS_CY = [
    ("Mae'r gwasanaeth ymwelwyr iechyd yn rhoi gwybod i'r meddyg teulu a'r MASH am ail gyswllt a gollwyd o fewn "
     "pum diwrnod gwaith.", "Mae archwiliad chwarterol o 20 achos yn dangos bod yr hysbysiad wedi'i anfon mewn pryd."),
    ("Mae pob asesiad yn enwi ac yn asesu pob oedolyn sy'n byw ar yr aelwyd, gan gynnwys partneriaid.",
     "Archwiliad o ffeiliau achos: partneriaid wedi'u henwi a'u hasesu mewn 9 o bob 10 ffeil."),
    ("Mae'r bwrdd yn cytuno ar gronoleg a rennir ar gyfer teuluoedd sy'n hysbys i fwy na dwy asiantaeth.",
     "Cronoleg a rennir yn cael ei defnyddio ar gyfer pob teulu o'r fath erbyn y dyddiad dyledus."),
    ("Mae'r heddlu'n anfon copi o bob hysbysiad cam-drin domestig am aelwyd â babi at yr ymwelydd iechyd.",
     "Mae hysbysiadau'n cyrraedd y gwasanaeth ymwelwyr iechyd o fewn diwrnod mewn sampl."),
]  # fmt: skip


def _dated(update: RecommendationUpdate, on: date) -> None:
    """A demo update written as of the day it records (the service stamps it now)."""
    at = timezone.make_aware(datetime.combine(on, time(10, 0)))
    RecommendationUpdate.objects.filter(pk=update.pk).update(at=at)


def _panel_user(board: BoardArea) -> User:
    org = Organisation.objects.filter(board_area=board, kind="safeguarding_board").first()
    user, _created = User.objects.get_or_create(
        username=f"review-subgroup-{board.code}",
        defaults={"organisation": org, "role": Role.REVIEW_PANEL, "first_name": "Review", "last_name": "sub-group",
                  "password": make_password(None)},
    )  # fmt: skip
    return user


def _milestones(review, user, until: date, rng: random.Random) -> None:
    later = services.after_sign_off(review) | {"sign_off"}  # these wait for the sign-off
    for m in review.milestones.order_by("position"):
        if m.done_on or m.due_on > until or m.step in later:
            continue
        done = min(m.due_on + timedelta(days=rng.choice([-5, 0, 10, 40])), until)
        reason = "reviewer_availability" if done > m.due_on else ""
        services.record_milestone(m, user=user, done_on=done, delay_reason=reason,
                                  delay_note="The reviewer was on leave." if reason else "")  # fmt: skip


def _tracked(rng: random.Random, board: BoardArea, as_of: date, *, stage: str, child=None) -> None:
    user = _panel_user(board)
    months_ago = {"early": 2, "middle": 5, "late": 9, "done": 14}[stage]
    referred = add_months(as_of, -months_ago)
    incident = referred - timedelta(days=rng.randint(20, 80))
    referral = services.refer(board_area=board, child=child, incident=Incident.LIFE_THREATENING, incident_on=incident,
                              user=user, referred_on=referred, summary="Fictional: a baby with a head injury.")  # fmt: skip
    review = services.decide(referral, user=user, review_type=referral.proposed_type, on=referred + timedelta(days=20),
                             reasons="The criteria are met; the proposal is agreed.",
                             scope_from=add_months(incident, -12))  # fmt: skip
    until = as_of if stage != "done" else add_months(referred, 10)
    _milestones(review, user, until, rng)
    filled = {"early": 2, "middle": 6, "late": 12, "done": len(FULL_REPORT)}[stage]
    for key in list(FULL_REPORT)[:filled]:
        report.section_save(review, user=user, key=key, text=FULL_REPORT[key])
        if stage in ("late", "done") and key in FULL_REPORT_CY:
            report.section_save(review, user=user, key=key, text=FULL_REPORT_CY[key], language="cy")
    if stage in ("late", "done"):
        for key, rows in FULL_ROWS.items():
            if key == "chronology":  # the template's day/month, in the year before this incident
                rows = [
                    [(incident - timedelta(days=100 - 30 * i)).strftime("%d/%m/%Y"), *row[1:]]
                    for i, row in enumerate(rows)
                ]
            report.section_save(review, user=user, key=key, rows=rows)
    if stage in ("middle", "late", "done"):
        for i, (text, measure, owner, kind, level, urgency, themes) in enumerate(RECOMMENDATIONS):
            # Signed-off reviews have recommendations past their due date, a late one three of its
            # four (the board measure and the tracker have something to show); newer ones later.
            past = {"done": add_months(referred, 6 + i), "late": add_months(referred, 4 + 2 * i)}
            due = past.get(stage, add_months(as_of, 3 + i))
            text_cy, measure_cy = RECOMMENDATIONS_CY[i] if stage == "done" else ("", "")
            rec = tracker.recommendation_add(review, user=user, text=text, success_measure=measure, owner_agency=owner,
                                             kind=kind, level=level, urgency=urgency, due_on=due, themes=themes,
                                             text_cy=text_cy, success_measure_cy=measure_cy)  # fmt: skip
            if stage in ("done", "late"):
                made = timezone.make_aware(datetime.combine(as_of - timedelta(days=months_ago * 30), time(12)))
                Recommendation.objects.filter(pk=rec.pk).update(created_at=made)
            if stage == "done":
                if i == 0:
                    update = tracker.recommendation_update(rec, user=user, status="completed", note="Audit done.",
                                                           evidence="Q2 audit: 19 of 20 notices sent in time.",
                                                           on=add_months(referred, 8))  # fmt: skip
                    _dated(update, add_months(referred, 8))
                elif i == 1:
                    update = tracker.recommendation_update(rec, user=user, status="in_progress",
                                                           note="Training delivered.", on=add_months(referred, 9))  # fmt: skip
                    _dated(update, add_months(referred, 9))
    if stage == "done":
        sign_off = review.milestones.get(step="sign_off")
        assert not quality.assess(review).to_fix, quality.assess(review).to_fix
        done_on = add_months(referred, 10)
        services.record_milestone(sign_off, user=user, done_on=done_on, delay_reason="parallel_investigation",
                                  delay_note="Waiting for the police investigation.")  # fmt: skip
        rest = review.milestones.filter(done_on__isnull=True, due_on__lte=as_of)
        for m in rest:
            services.record_milestone(m, user=user, done_on=min(done_on + timedelta(days=30), as_of),
                                      delay_reason="parallel_investigation")  # fmt: skip
        CodedReview.objects.create(
            board_area=board, review=review, reference=f"{board.code.upper()[:4]} T{review.pk}/{referred.year}",
            type=review.type, title="Child Q", incident_on=incident, referred_on=referred, signed_off_on=done_on,
            child_gender="male", child_age_months=3, previous_history=PreviousHistory.BELOW_THRESHOLD,
            public_summary="Child Q, a baby of three months, was seriously injured. Three agencies each held part "
            "of the picture; nobody put it together.",
            public_summary_cy="Cafodd Plentyn Q, babi tri mis oed, ei anafu'n ddifrifol. Roedd gan dair asiantaeth ran o'r "
            "darlun yr un; ni roddodd neb y darnau at ei gilydd.", is_public=False,
        )  # fmt: skip


def build(*, as_of: date, seed: int = 2026) -> dict[str, int]:
    """The repository and the tracked reviews. Returns counts for the build summary."""
    rng = random.Random(seed + 9)
    findings = random.Random(seed + 10)
    boards = list(BoardArea.objects.order_by("code"))
    coded = 0
    for board, n in zip(boards, CODED_PER_BOARD, strict=False):
        coded += len(_coded(rng, board, n, as_of, findings))
    stages = ["done", "late", "middle", "early", "done", "middle"]
    for board, stage in zip(boards, stages, strict=False):
        _tracked(rng, board, as_of, stage=stage)
    _tracked(rng, boards[0], as_of, stage="late")  # a board with enough overdue to show unsuppressed
    return {"coded_reviews": coded, "tracked_reviews": len(stages) + 1}
