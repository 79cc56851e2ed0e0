"""Administration of organisations, places and accounts only.

Person records, events and the audit log are deliberately not in the Django admin: it would
bypass the access policy and the audit of reads.
"""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin
from django_otp.plugins.otp_totp.models import TOTPDevice

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


class CylchTOTPDeviceAdmin(TOTPDeviceAdmin):
    """An administrator may remove a lost authenticator app, never read its secret: the key, the
    set-up page and the QR code would let them sign in as its owner. (django-otp's own set-up
    views also load the device without a 404, so a mistyped id was a server error.)"""

    HIDDEN = ("key", "qrcode_link")

    def get_list_display(self, request):
        return [f for f in super().get_list_display(request) if f not in self.HIDDEN]

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:  # adding a device: its key is set then, as in django-otp
            return fieldsets
        shown = [
            (name, {**opts, "fields": [f for f in opts["fields"] if f not in self.HIDDEN]}) for name, opts in fieldsets
        ]
        return [(name, opts) for name, opts in shown if opts["fields"]]

    def config_view(self, request, pk):
        raise PermissionDenied

    def qrcode_view(self, request, pk):
        raise PermissionDenied


admin.site.unregister(TOTPDevice)
admin.site.register(TOTPDevice, CylchTOTPDeviceAdmin)
