"""Signing in and reading the signed-in user back on each request."""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend

from cylch.access.models import User


class UserBackend(ModelBackend):
    """Django's model backend, reading the user with their organisation in one query: every
    page asks for both (the viewer's standing, the menu, the "signed in as" line), and the
    organisation's own query was one in every practitioner request."""

    def get_user(self, user_id):
        try:
            user = User._default_manager.select_related("organisation").get(pk=user_id)
        except User.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
