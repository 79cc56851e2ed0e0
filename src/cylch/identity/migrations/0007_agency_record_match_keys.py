"""Online matching asks the database every blocking rule exactly (linkage/online.py): the given-name
form, the postcode without spaces and the folded street address are stored on each agency record,
filled here for the records already held, and indexed with the date of birth, postcode and address.

The fill reads and writes 5,000 records at a time (one UPDATE ... FROM VALUES each, PostgreSQL and SQLite alike), so a hub of a
million records is never held in memory; it takes about a minute per million records (docs/linkage.md)."""

from django.db import migrations, models

BATCH = 5000
KEYS = ("given_canon", "postcode_key", "address_key")


def fill_match_keys(apps, schema_editor):
    from cylch.identity.models import match_keys

    AgencyRecord = apps.get_model("identity", "AgencyRecord")
    table = AgencyRecord._meta.db_table
    qs = AgencyRecord.objects.using(schema_editor.connection.alias).order_by("pk")
    qs = qs.only("pk", "given_name", "family_name", "postcode", "address_line")
    last = 0
    with schema_editor.connection.cursor() as cursor:
        while True:
            batch = list(qs.filter(pk__gt=last)[:BATCH])
            if not batch:
                return
            last = batch[-1].pk
            rows = []
            for record in batch:
                keys = match_keys(record)
                rows.append((record.pk, *(keys[k] for k in KEYS)))
            values = ", ".join(["(%s, %s, %s, %s)"] * len(rows))
            cursor.execute(
                f"WITH v(i, g, p, a) AS (VALUES {values}) "  # noqa: S608 (the table's own name)
                f'UPDATE "{table}" SET given_canon = v.g, postcode_key = v.p, address_key = v.a '
                f'FROM v WHERE "{table}".id = v.i',
                [x for row in rows for x in row],
            )


class Migration(migrations.Migration):
    dependencies = [
        ("identity", "0006_agency_record_address_lower"),
    ]

    operations = [
        migrations.AddField(
            model_name="agencyrecord",
            name="given_canon",
            field=models.CharField(
                blank=True, help_text="Canonical form of the first given name (Dai, David: dafydd).", max_length=100
            ),
        ),
        migrations.AddField(
            model_name="agencyrecord",
            name="postcode_key",
            field=models.CharField(blank=True, help_text="Postcode in capitals without spaces.", max_length=20),
        ),
        migrations.AddField(
            model_name="agencyrecord",
            name="address_key",
            field=models.CharField(blank=True, help_text="Folded street address.", max_length=200),
        ),
        migrations.RunPython(fill_match_keys, migrations.RunPython.noop, elidable=True),
        migrations.RemoveIndex(model_name="agencyrecord", name="identity_ag_date_of_3a1252_idx"),
        migrations.RemoveIndex(model_name="agencyrecord", name="identity_ag_postcod_627e51_idx"),
        migrations.RemoveIndex(model_name="agencyrecord", name="agency_record_address_lower"),
        migrations.AddIndex(
            model_name="agencyrecord",
            index=models.Index(fields=["date_of_birth", "given_canon"], name="agency_record_dob_given"),
        ),
        migrations.AddIndex(
            model_name="agencyrecord",
            index=models.Index(fields=["postcode_key", "given_canon"], name="agency_record_postcode_given"),
        ),
        migrations.AddIndex(
            model_name="agencyrecord",
            index=models.Index(fields=["address_key", "given_canon"], name="agency_record_address_given"),
        ),
    ]
