"""Security headers on every HTTP response: CSP, framing, referrer, sniffing, permissions.

The content security policy allows scripts, styles, images and connections from the instance
itself only — no inline scripts — plus the WebSocket endpoints of the same host. Inline
`style` attributes are allowed (editor carets and decorations set them); `<style>` elements
are not.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def content_security_policy(host: str, secure: bool) -> str:
    sockets = f"wss://{host}" if secure else f"ws://{host} wss://{host}"
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "style-src-attr 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "media-src 'self' blob:",
            "font-src 'self'",
            f"connect-src 'self' {sockets}",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def _host(scope: Scope) -> str:
    for key, value in scope.get("headers", []):
        if key == b"host":
            host = str(value.decode("latin-1"))
            # A Host header is client input: keep it from breaking out of the header value.
            if host and all(c.isalnum() or c in ".-:[]" for c in host):
                return host
    return "localhost"


class SecurityHeadersMiddleware:
    """Adds the security headers to each response that does not set its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        secure = scope.get("scheme") == "https"
        extra = [
            (
                b"content-security-policy",
                content_security_policy(_host(scope), secure).encode("latin-1"),
            ),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"same-origin"),
            (b"x-content-type-options", b"nosniff"),
            (
                b"permissions-policy",
                b"camera=(self), microphone=(self), display-capture=(self), geolocation=(), "
                b"payment=(), usb=()",
            ),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]
        if secure:
            extra.append((b"strict-transport-security", b"max-age=31536000"))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {key.lower() for key, _ in headers}
                headers.extend((k, v) for k, v in extra if k not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
