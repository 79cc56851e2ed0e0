"""`cylch retention`: what the retention schedule says is due, the run that removes it, legal
holds, and the check of erased audit entries (docs/governance.md, "Retention").

    cylch retention list [--class reports ...] [--on 2044-04-09]   the dry run
    cylch retention run --yes [--class reports ...]                remove what is due today
    cylch retention hold add (--person ID | --record CLASS:ID) --reason TEXT [--reference REF]
    cylch retention hold remove HOLD_ID --reason TEXT
    cylch retention hold list
    cylch retention verify                                         the chain and every erasure
"""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from cylch.governance.retention_records import CLASSES

LABEL = "cylch retention (command line)"


def _when(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(f"--on: “{text}” is not a date (YYYY-MM-DD)") from exc


def _messages(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
    return " ".join(exc.messages)


class Command(BaseCommand):
    help = "Retention: list what is due (dry run), run the removal, manage legal holds, verify erasures."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        listing = sub.add_parser("list", help="what is due (nothing is changed)")
        listing.add_argument("--class", dest="classes", action="append", choices=list(CLASSES), help="only this class")
        listing.add_argument("--on", help="as it would be on this date (YYYY-MM-DD) instead of today")
        run = sub.add_parser("run", help="delete or anonymise what is due today (needs --yes)")
        run.add_argument("--class", dest="classes", action="append", choices=list(CLASSES), help="only this class")
        run.add_argument("--yes", action="store_true", help="really remove it (see `list` first)")
        run.add_argument("--batch-size", type=int, default=100, help="records per transaction (default 100)")
        hold = sub.add_parser("hold", help="legal holds")
        holds = hold.add_subparsers(dest="hold_action", required=True)
        add = holds.add_parser("add", help="keep a person's records, or one record, until released")
        who = add.add_mutually_exclusive_group(required=True)
        who.add_argument("--person", help="the person's id (as in their record's address)")
        who.add_argument("--record", help="CLASS:ID, e.g. reports:6f1c… or audit_log:1234")
        add.add_argument("--reason", required=True)
        add.add_argument("--reference", default="", help="the claim, court, inquiry or complaint reference")
        remove = holds.add_parser("remove", help="release a hold")
        remove.add_argument("hold_id")
        remove.add_argument("--reason", required=True)
        holds.add_parser("list", help="the holds in force")
        sub.add_parser("verify", help="check the audit chain and that every erased entry was erased by a run")

    def handle(self, *args, **opts):
        from cylch.governance import retention

        try:
            retention.schedule()
        except retention.ScheduleError as exc:
            raise CommandError(f"the retention schedule does not load:\n{exc}") from exc
        action = opts["action"]
        if action == "list":
            self._list(retention, opts)
        elif action == "run":
            self._run(retention, opts)
        elif action == "hold":
            self._hold(retention, opts)
        else:
            self._verify(retention)

    def _list(self, retention, opts) -> None:
        today = _when(opts["on"]) if opts.get("on") else None
        listing = retention.due_list(today=today, classes=opts.get("classes"))
        self.stdout.write(f"Due on {listing.today:%Y-%m-%d} (nothing has been changed):")
        for item in listing.items:
            why = {retention.HELD: f"  kept: {item.reason}", retention.NEEDED: f"  kept: needed by {item.reason}"}
            self.stdout.write(f"  {item.record_class:<14} {item.record_id}  due {item.due_on:%Y-%m-%d}  "
                              f"{CLASSES[item.record_class].action}  rule {item.rule.describe()}{why.get(item.status, '')}")  # fmt: skip
        for key in listing.later:
            due = len(listing.of(key))
            kept = len(listing.of(key, retention.HELD)) + len(listing.of(key, retention.NEEDED))
            self.stdout.write(f"{key}: {due} due, {kept} kept past their date, {listing.later[key]} not yet due, "
                              f"{listing.open[key]} still open")  # fmt: skip
        if listing.audit is not None:
            self.stdout.write(f"audit_log: {listing.audit.due} entries made before {listing.audit.before:%Y-%m-%d} "
                              f"to erase, {listing.audit.held} kept by holds")  # fmt: skip

    def _run(self, retention, opts) -> None:
        if not opts["yes"]:
            raise CommandError("nothing removed: `cylch retention list` shows what is due; add --yes to remove it")
        if opts["batch_size"] < 1:
            raise CommandError("--batch-size must be 1 or more")
        try:
            run = retention.retention_run(classes=opts.get("classes"), actor_label=LABEL, batch_size=opts["batch_size"])
        except retention.RetentionBusy as exc:
            raise CommandError(str(exc)) from exc
        for key, count in run.removed.items():
            self.stdout.write(f"{key}: {count} removed, {run.kept.get(key, 0)} kept (held or still needed)")
        if run.status != "completed":
            raise CommandError(f"retention run {run.public_id} stopped: {run.error}")
        self.stdout.write(f"retention run {run.public_id} completed: one audit entry per record removed")

    def _hold(self, retention, opts) -> None:
        from cylch.governance.models import LegalHold
        from cylch.identity.models import Person

        if opts["hold_action"] == "list":
            holds = LegalHold.objects.filter(released_at__isnull=True).select_related("person").order_by("created_at")
            for hold in holds:
                what = f"person {hold.person.public_id}" if hold.person_id else f"{hold.record_class}:{hold.record_id}"
                ref = f" [{hold.reference}]" if hold.reference else ""
                self.stdout.write(
                    f"{hold.public_id}  {what}{ref}  since {hold.created_at:%Y-%m-%d} by {hold.placed_by_label}"
                )
            self.stdout.write(f"{holds.count()} hold(s) in force")
            return
        try:
            if opts["hold_action"] == "add":
                person, record_class, record_id = None, "", ""
                if opts.get("person"):
                    person = Person.objects.filter(public_id=opts["person"]).first() if _uuid(opts["person"]) else None
                    if person is None:
                        raise CommandError(f"no person with the id {opts['person']}")
                else:
                    record_class, _sep, record_id = opts["record"].partition(":")
                hold = retention.hold_place(person=person, record_class=record_class, record_id=record_id,
                                            reason=opts["reason"], reference=opts["reference"], actor_label=LABEL)  # fmt: skip
                self.stdout.write(f"hold {hold.public_id} placed")
            else:
                hold = LegalHold.objects.filter(public_id=opts["hold_id"]).first() if _uuid(opts["hold_id"]) else None
                if hold is None:
                    raise CommandError(f"no hold with the id {opts['hold_id']}")
                retention.hold_release(hold=hold, reason=opts["reason"], actor_label=LABEL)
                self.stdout.write(f"hold {hold.public_id} released: its records follow the schedule again")
        except ValidationError as exc:
            raise CommandError(_messages(exc)) from exc

    def _verify(self, retention) -> None:
        from cylch.access.audit import audit_verify

        chain = audit_verify()
        if not chain.ok:
            raise CommandError(f"audit chain broken at entry #{chain.first_bad_seq}: {chain.problem}")
        erasures = retention.redactions_verify()
        if not erasures.ok:
            raise CommandError(
                "erased audit entries do not match the runs that erased them:\n" + "\n".join(erasures.problems)
            )
        self.stdout.write(
            f"audit chain intact: {chain.checked} entries; {erasures.erased} erased, each by a retention run"
        )


def _uuid(text: str) -> bool:
    import uuid

    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
