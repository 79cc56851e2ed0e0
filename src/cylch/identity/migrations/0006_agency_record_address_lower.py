"""Online matching finds candidates by street address (linkage/online.py): index lower(address_line)."""

import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("identity", "0005_family_conflict_decisions"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="agencyrecord",
            index=models.Index(
                django.db.models.functions.text.Lower("address_line"), name="agency_record_address_lower"
            ),
        ),
    ]
