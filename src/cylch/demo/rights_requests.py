"""Requests people made about their records, for the team manager's "People's requests" page:
one overdue, one due within the week, one answered, all about the Bevan family in Cardiff."""

from __future__ import annotations

from datetime import date, timedelta

from cylch.access.models import User
from cylch.identity.models import Person


def build(*, as_of: date, users: dict[str, User]) -> int:
    from cylch.core.calendar import add_working_days
    from cylch.governance import rights_requests as rr

    manager = users.get("team-manager")
    elis = Person.objects.filter(given_name="Elis", family_name="Bevan").first()
    if manager is None or elis is None:
        return 0
    asked = [
        ("access", "Jade Bevan", "parent", as_of - timedelta(days=40),
         "A copy of everything held about Elis since he started school."),
        ("rectification", "Jade Bevan", "parent", rr.month_after(add_working_days(as_of, 3), -1),
         "The school's entry in March says Elis was absent; he was on the Year 2 trip to Sain Ffagan."),
        ("objection", "Elis Bevan's grandmother, for Jade", "representative", as_of - timedelta(days=20),
         "Asks that the school is not told about the family's housing."),
    ]  # fmt: skip
    made = [
        rr.request_record(user=manager, person_id=elis.public_id, kind=kind, requested_by_name=name,
                          requester_relationship=relationship, received_on=received, details=details)
        for kind, name, relationship, received, details in asked
    ]  # fmt: skip
    rr.request_answer(user=manager, public_id=made[2].public_id, answered_on=as_of - timedelta(days=6),
                      answer="Explained that the school is told only what it needs to keep Elis safe; nothing "
                      "about housing was shared. Jade was content with the answer.")  # fmt: skip
    return len(made)
