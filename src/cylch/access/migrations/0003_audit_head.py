from django.db import migrations


def create_head(apps, schema_editor):
    apps.get_model("access", "AuditHead").objects.get_or_create(id=1)


class Migration(migrations.Migration):
    dependencies = [("access", "0002_initial")]
    operations = [migrations.RunPython(create_head, migrations.RunPython.noop)]
