"""Event fingerprints name the sender's agency record, not the resolved person (see fingerprint_subject)."""

from django.db import migrations


def refingerprint(apps, schema_editor):
    from cylch.events.services import fingerprint

    Event = apps.get_model("events", "Event")
    batch = []
    rows = (
        Event.objects.filter(agency_record__isnull=False)
        .select_related("agency_record", "supersedes")
        .only("pk", "code", "occurred_at", "summary", "details", "agency_record__public_id", "supersedes__public_id")
    )
    for event in rows.iterator(chunk_size=5000):
        event.fingerprint = fingerprint(
            code=event.code,
            occurred_at=event.occurred_at,
            subject=f"record:{event.agency_record.public_id}",
            summary=event.summary,
            details=event.details,
            supersedes=str(event.supersedes.public_id) if event.supersedes_id else "",
        )
        batch.append(event)
        if len(batch) >= 5000:
            Event.objects.bulk_update(batch, ["fingerprint"])
            batch = []
    Event.objects.bulk_update(batch, ["fingerprint"])


class Migration(migrations.Migration):
    dependencies = [("events", "0002_import_runs")]
    operations = [migrations.RunPython(refingerprint, migrations.RunPython.noop)]
