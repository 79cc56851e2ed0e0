from django.db import migrations, models
from django.utils import timezone


def start_the_clock(apps, schema_editor):
    """Accounts already switched off: when is not known, so their period starts now (never earlier)."""
    apps.get_model("access", "User").objects.filter(is_active=False).update(deactivated_at=timezone.now())


class Migration(migrations.Migration):
    dependencies = [
        ("access", "0003_audit_head"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="deactivated_at",
            field=models.DateTimeField(
                blank=True,
                editable=False,
                help_text="When the account was switched off: the retention schedule's departed_users class counts from it.",
                null=True,
            ),
        ),
        migrations.RunPython(start_the_clock, migrations.RunPython.noop),
    ]
