"""Administration of organisations, places and accounts only.

Person records, events and the audit log are deliberately not in the Django admin: it would
bypass the access policy and the audit of reads.
"""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from cylch.access.models import ApiToken, BoardArea, LocalAuthority, Organisation, User


@admin.register(BoardArea)
class BoardAreaAdmin(admin.ModelAdmin):
    list_display = ["code", "name_en", "name_cy"]


@admin.register(LocalAuthority)
class LocalAuthorityAdmin(admin.ModelAdmin):
    list_display = ["code", "name_en", "name_cy", "board_area"]
    list_filter = ["board_area"]


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["code", "name_en", "kind", "local_authority"]
    list_filter = ["kind", "board_area"]
    search_fields = ["code", "name_en", "name_cy"]


@admin.register(User)
class CylchUserAdmin(UserAdmin):
    list_display = ["username", "first_name", "last_name", "organisation", "role", "is_active"]
    list_filter = ["role", "is_active", "is_demo"]
    fieldsets = (
        *UserAdmin.fieldsets,
        (
            "Cylch",
            {"fields": ("organisation", "role", "language", "job_title", "phone", "is_safeguarding_lead", "is_demo")},
        ),
    )


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["organisation", "name", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["organisation", "name", "prefix", "secret_hash", "created_at", "last_used_at"]

    def has_add_permission(self, request):
        return False  # tokens are created with `cylch token create`, which shows the secret once
