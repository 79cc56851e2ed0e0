from django.apps import AppConfig
from django.db.models.signals import post_save


class RulesConfig(AppConfig):
    name = "cylch.rules"
    label = "rules"
    verbose_name = "Cumulative-risk rules and alerts"

    def ready(self):
        # Registers the system checks and whom alerts' notices are about, and listens for
        # recorded events and for links undone.
        from cylch.rules import checks, notices, receivers, relink  # noqa: F401
        from cylch.rules.handover import on_membership_created

        # A child's new home in another local authority hands over what the old one holds
        # (rules/handover.py), in the transaction that records the move.
        post_save.connect(
            on_membership_created,
            sender="identity.HouseholdMembership",
            dispatch_uid="cylch.rules.handover.on_membership_created",
        )
