"""Response headers Django 5.2 does not send, and the client's address behind a proxy.

Django's ``SecurityMiddleware`` already sends HSTS, ``X-Content-Type-Options``,
``Referrer-Policy`` and ``Cross-Origin-Opener-Policy``, and ``XFrameOptionsMiddleware`` sends
``X-Frame-Options``. This module adds what is left: a strict Content-Security-Policy (no inline
script or style anywhere in Cylch, so none is allowed), a Permissions-Policy that turns off the
browser features a safeguarding hub never uses, ``Cache-Control: no-store`` on every page a
signed-in user sees (a shared computer's disk cache must not keep a child's record), and the
Secure flag on every cookie when the hub is served over HTTPS, whichever view set it.
The policies themselves are settings (``CYLCH_CONTENT_SECURITY_POLICY``,
``CYLCH_PERMISSIONS_POLICY``); ``docs/security.md`` explains each choice.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# A download must never run anything, even if a browser is talked into rendering it inline.
DOWNLOAD_POLICY = "default-src 'none'; frame-ancestors 'none'; sandbox"


def content_security_policy(policy: dict[str, list[str]]) -> str:
    """The header value for a policy given as ``{directive: [sources]}`` (an empty list is a bare directive)."""
    return "; ".join(f"{name} {' '.join(sources)}".strip() for name, sources in policy.items())


def permissions_policy(features: dict[str, list[str]]) -> str:
    """The header value for ``{feature: [allowed origins]}``; an empty list turns the feature off."""
    return ", ".join(f"{name}=({' '.join(origins)})" for name, origins in features.items())


class SecurityHeadersMiddleware:
    """Content-Security-Policy, Permissions-Policy, Cross-Origin-Resource-Policy and no-store
    on every response; the Secure flag on every cookie when the hub runs on HTTPS.

    Placed right after ``SecurityMiddleware`` so it also sees the static files WhiteNoise
    answers. Headers a view set itself are kept (``setdefault``).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if settings.DEBUG and response.status_code >= 400 and response.get("Content-Type", "").startswith("text/html"):
            # Django's debug error pages are built from inline style and script; they exist
            # only with DEBUG on, where a readable traceback is worth more than the policy.
            return response
        if response.get("Content-Disposition", "").lower().startswith("attachment"):
            response.setdefault("Content-Security-Policy", DOWNLOAD_POLICY)
        else:
            response.setdefault(
                "Content-Security-Policy", content_security_policy(settings.CYLCH_CONTENT_SECURITY_POLICY)
            )
        response.setdefault("Permissions-Policy", permissions_policy(settings.CYLCH_PERMISSIONS_POLICY))
        response.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            response.setdefault("Cache-Control", "no-store")
        if settings.CYLCH_HTTPS:
            for morsel in response.cookies.values():
                morsel["secure"] = True
        return response


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    try:
        return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)
    except ValueError as exc:
        raise ImproperlyConfigured(f"CYLCH_TRUSTED_PROXIES: {exc}") from exc


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def forwarded_client(remote_addr: str, forwarded_for: str, proxies: tuple[str, ...]) -> str:
    """The client's address: walk ``X-Forwarded-For`` from the right past the trusted proxies.

    Only entries added by trusted proxies are believed; whatever a client wrote in the header
    itself sits to the left of its real address and is never reached. When the direct peer is
    not a trusted proxy the header is ignored altogether.
    """
    networks = _networks(proxies)

    def trusted(address: str) -> bool:
        ip = _ip(address)
        return ip is not None and any(ip in net for net in networks)

    if not trusted(remote_addr):
        return remote_addr
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    client = remote_addr
    for hop in reversed(hops):
        if _ip(hop) is None:
            break  # a proxy that writes garbage is not believed any further
        client = hop
        if not trusted(hop):
            break
    return client


class TrustedProxyMiddleware:
    """Behind a reverse proxy ``REMOTE_ADDR`` is the proxy: sign-in throttling per address and
    the audit log need the client's. Set ``CYLCH_TRUSTED_PROXIES`` to the proxies' addresses
    (or networks); without it ``REMOTE_ADDR`` is left alone and ``X-Forwarded-For`` ignored.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        proxies = tuple(settings.CYLCH_TRUSTED_PROXIES)
        if proxies:
            request.META["REMOTE_ADDR"] = forwarded_client(
                request.META.get("REMOTE_ADDR", ""), request.META.get("HTTP_X_FORWARDED_FOR", ""), proxies
            )
        return self.get_response(request)
