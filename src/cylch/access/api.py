"""Bearer-token authentication for organisation systems."""

from __future__ import annotations

from ninja.security import HttpBearer

from cylch.access.services import api_token_authenticate


class TokenAuth(HttpBearer):
    def authenticate(self, request, token: str):
        api_token = api_token_authenticate(token)
        if api_token is None:
            return None
        request.api_token = api_token
        request.organisation = api_token.organisation
        return api_token
