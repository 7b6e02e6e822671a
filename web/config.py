"""Settings: one table (name, default, help), read from the environment.

A bad value stops start-up with a message that names the setting and what it accepts.
`docs/settings.md` documents every row; a test keeps the two in step.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from web.setting_types import (
    Setting,
    parse_choice,
    parse_domains,
    parse_flag,
    parse_float,
    parse_host_names,
    parse_ice_urls,
    parse_int,
    parse_ip_addresses,
    parse_port_range,
    parse_public_url,
    parse_secret,
    parse_text,
    parse_url,
    setting,
)
from web.setting_types import (
    SettingsError as SettingsError,
)


@dataclass(frozen=True)
class Settings:
    """The server's settings, parsed and checked: one declaration per setting, its environment
    variable, documented default (a string, as it would be written), help and parser; the
    typed default is that string parsed, so there is nothing else to keep in step."""

    host: str = setting(
        "HOST",
        "127.0.0.1",
        "Address the web server listens on.",
        parse_text,
    )
    port: int = setting(
        "PORT",
        "8000",
        "TCP port the web server listens on.",
        parse_int(1, 65535),
    )
    workers: int = setting(
        "ATELIER_WORKERS",
        "1",
        "Number of worker processes for `atelier serve`. More than one needs REDIS_URL.",
        parse_int(1, 64),
    )
    data_dir: str = setting(
        "ATELIER_DATA_DIR",
        "./data",
        "Folder for the SQLite database, uploaded files and the generated secret key; kept "
        "readable by the server's user only (0700, files 0600; tightened at start).",
        parse_text,
    )
    database_url: str = setting(
        "DATABASE_URL",
        "",
        "SQLAlchemy URL of the database; empty means SQLite in the data folder. "
        "`postgresql://user:pass@host/db` selects PostgreSQL (asyncpg).",
        parse_url("sqlite", "postgresql", "postgres"),
    )
    redis_url: str = setting(
        "REDIS_URL",
        "",
        "Redis URL (`redis://host:6379/0`) for the bus between workers; empty means one "
        "process with an in-process bus.",
        parse_url("redis", "rediss", "unix"),
    )
    secret_key: str = setting(
        "ATELIER_SECRET_KEY",
        "",
        "Key that signs tokens and sessions (32+ characters). Empty: one is generated once "
        "and kept in the data folder as `secret_key`.",
        parse_secret,
    )
    log_level: str = setting(
        "ATELIER_LOG_LEVEL",
        "info",
        "Logging level: debug, info, warning or error.",
        parse_choice("debug", "info", "warning", "error"),
    )
    max_message_bytes: int = setting(
        "ATELIER_MAX_MESSAGE_BYTES",
        "4194304",
        "Largest WebSocket message a client may send; a larger one closes its connection "
        "with 1009.",
        parse_int(1024, 256 * 2**20),
    )
    max_document_bytes: int = setting(
        "ATELIER_MAX_DOCUMENT_BYTES",
        "67108864",
        "Largest size a document may grow to; an update past it is refused (close 1009).",
        parse_int(4096, 2**31),
    )
    max_image_bytes: int = setting(
        "ATELIER_MAX_IMAGE_BYTES",
        "10485760",
        "Largest image a user may upload into a page (PNG, JPEG, GIF or WebP); a larger one "
        "is refused with 413.",
        parse_int(1024, 2**30),
    )
    send_buffer_bytes: int = setting(
        "ATELIER_SEND_BUFFER_BYTES",
        "8388608",
        "Bytes waiting to be sent to one sync connection before it is dropped as too slow "
        "(it resyncs when it reconnects). One message larger than this still goes out whole.",
        parse_int(65536, 2**31),
    )
    rate_messages: float = setting(
        "ATELIER_RATE_MESSAGES",
        "300",
        "Messages per second one connection may send on average.",
        parse_float(1, 1_000_000),
    )
    rate_burst: float = setting(
        "ATELIER_RATE_BURST",
        "1500",
        "Messages one connection may send in a burst above the average rate; past it the "
        "connection is closed with 1008.",
        parse_float(1, 10_000_000),
    )
    commit_interval_ms: int = setting(
        "ATELIER_COMMIT_INTERVAL_MS",
        "80",
        "How long a group of received updates gathers before it is committed (the first "
        "update of a group is durable within this plus the commit's own few milliseconds).",
        parse_int(1, 1000),
    )
    compact_after_updates: int = setting(
        "ATELIER_COMPACT_AFTER_UPDATES",
        "200",
        "Log length after which a document's updates are merged into its snapshot.",
        parse_int(2, 1_000_000),
    )
    room_idle_seconds: float = setting(
        "ATELIER_ROOM_IDLE_SECONDS",
        "10",
        "Seconds a document stays in memory after its last connection closes.",
        parse_float(0, 86400),
    )
    version_interval_minutes: int = setting(
        "ATELIER_VERSION_INTERVAL_MINUTES",
        "60",
        "Minutes between automatic versions of a page that keeps changing (1 to 10080).",
        parse_int(1, 10080),
    )
    token_ttl_seconds: int = setting(
        "ATELIER_TOKEN_TTL_SECONDS",
        "86400",
        "Default lifetime of a token minted by `atelier token`.",
        parse_int(1, 10 * 365 * 86400),
    )
    guest_link_days: int = setting(
        "ATELIER_GUEST_LINK_DAYS",
        "30",
        "Days a new guest link stays valid unless its creator picks another expiry (1 to 366).",
        parse_int(1, 366),
    )
    live_retention_events: int = setting(
        "ATELIER_LIVE_RETENTION_EVENTS",
        "100000",
        "Live events (notifications, comments, board moves...) kept for clients that reconnect: "
        "one that missed more than this is told to reload its page. In memory, or in Redis with "
        "REDIS_URL.",
        parse_int(100, 10_000_000),
    )
    access_watch_seconds: float = setting(
        "ATELIER_ACCESS_WATCH_SECONDS",
        "5",
        "How often each worker closes the live sockets (documents, meetings) whose session or "
        "guest link expired. Ending access by hand (signing out, revoking, removing) closes "
        "them at once.",
        parse_float(0.1, 3600),
    )
    comment_max_chars: int = setting(
        "ATELIER_COMMENT_MAX_CHARS",
        "10000",
        "Longest comment (its HTML, in characters) a person may post; a longer one is refused "
        "(422).",
        parse_int(100, 1_000_000),
    )
    comments_per_minute: int = setting(
        "ATELIER_COMMENTS_PER_MINUTE",
        "30",
        "Comments one person may post per minute (in bursts of as many), per worker; past it "
        "a comment is refused (429) until the bucket refills.",
        parse_int(1, 10_000),
    )
    mentions_per_comment: int = setting(
        "ATELIER_MENTIONS_PER_COMMENT",
        "20",
        "Mentions (people and groups) one comment may hold; past it the comment is refused "
        "with a message saying so (422).",
        parse_int(1, 1000),
    )
    notification_batch_seconds: float = setting(
        "ATELIER_NOTIFICATION_BATCH_SECONDS",
        "120",
        "Batching window of notification mails: a person gets at most one mail per window, "
        "however many notifications, whichever worker made them.",
        parse_float(1, 86400),
    )
    notification_digest_hour: int = setting(
        "ATELIER_NOTIFICATION_DIGEST_HOUR",
        "7",
        "Hour of the day (UTC, 0 to 23) the daily digest of notifications goes out to those "
        "who chose it.",
        parse_int(0, 23),
    )
    notification_mail_seconds: float = setting(
        "ATELIER_NOTIFICATION_MAIL_SECONDS",
        "15",
        "How often each worker looks for notification mails that are due (a mail may leave "
        "this much after its window ends).",
        parse_float(0.1, 3600),
    )
    guest_accounts_per_address: int = setting(
        "ATELIER_GUEST_ACCOUNTS_PER_ADDRESS",
        "30",
        "Guest accounts that guest links may create for one client address within an hour; "
        "past it a first opening of a link is refused (429) until the hour has passed (a "
        "browser that opened a link before gets its account back and is not counted). "
        "Generous because a ministry or a company puts many people behind one address.",
        parse_int(1, 100_000),
    )
    public_url: str = setting(
        "ATELIER_PUBLIC_URL",
        "",
        "Address people reach the instance at (`https://atelier.example.gouv.fr`): every link "
        "sent by mail or shown in a page starts with it, and requests for another host name "
        "are refused (400). Needed when HOST is not a loopback address; empty on loopback "
        "means `http://HOST:PORT`.",
        parse_public_url,
    )
    allowed_hosts: tuple[str, ...] = setting(
        "ATELIER_ALLOWED_HOSTS",
        "",
        "Comma-separated host names accepted besides ATELIER_PUBLIC_URL's (a name a reverse "
        "proxy or an internal client uses); links still use ATELIER_PUBLIC_URL. On loopback, "
        "`localhost`, `127.0.0.1` and `::1` are accepted too.",
        parse_host_names,
    )
    theme: str = setting(
        "ATELIER_THEME",
        "neutre",
        "Look of the pages. `neutre`: Atelier's own stylesheet on the DSFR's components (system "
        "fonts, an Atelier wordmark), for any instance. `etat`: the State's design system "
        '(DSFR: Marianne font, "République Française" header block), for State services only '
        "under the DSFR's terms; needs `DSFR_ACCEPT_LICENSE=1 make dsfr` first (docs/design.md).",
        parse_choice("neutre", "etat"),
    )
    serve_source_maps: bool = setting(
        "ATELIER_SERVE_SOURCE_MAPS",
        "false",
        "Serve the editor bundle's source maps (`/static/build/*.map`, the TypeScript "
        "sources) to anyone; off, they answer 404.",
        parse_flag,
    )
    session_days: int = setting(
        "ATELIER_SESSION_DAYS",
        "14",
        "Days a sign-in lasts without use; each visit extends it (sliding expiry).",
        parse_int(1, 365),
    )
    signup_domains: tuple[str, ...] = setting(
        "ATELIER_SIGNUP_DOMAINS",
        "gouv.fr",
        "Comma-separated email domains (subdomains included) whose people may register "
        "themselves; anyone else waits for an administrator's approval. Empty: everyone waits. "
        "The initial value: administrators change it at run time at /admin/reglages.",
        parse_domains,
    )
    signup_open: bool = setting(
        "ATELIER_SIGNUP_OPEN",
        "true",
        "`true`: the sign-up form (/inscription) takes registrations; `false`: it says that "
        "registrations are closed and accounts are made by administrators (or on a first "
        "OpenID Connect sign-in). The initial value: administrators change it at run time at "
        "/admin/reglages.",
        parse_flag,
    )
    login_max_failures: int = setting(
        "ATELIER_LOGIN_MAX_FAILURES",
        "5",
        "Failed sign-ins to one account from one client address, within the window, before "
        "each further attempt from there waits: 1 s, then 2 s, 4 s... at most 5 minutes (429 "
        "with Retry-After; the right password waits too). Also how many reset mails one email "
        "address may be sent, and registrations one client address may make, per 15 minutes.",
        parse_int(1, 1000),
    )
    login_max_failures_per_account: int = setting(
        "ATELIER_LOGIN_MAX_FAILURES_PER_ACCOUNT",
        "10",
        "Failed sign-ins to one account from all addresses, within the window, before the "
        "addresses that failed for it wait as above. An address that has not failed for the "
        "account is still let in with the right password.",
        parse_int(1, 100_000),
    )
    login_max_failures_per_address: int = setting(
        "ATELIER_LOGIN_MAX_FAILURES_PER_ADDRESS",
        "100",
        "Failed sign-ins from one client address to any accounts, within the window, before "
        "every sign-in from it waits: 1 s, then 2 s, 4 s... at most 1 minute. High because "
        "many people may share an address (a NAT); behind a reverse proxy, set uvicorn's "
        "FORWARDED_ALLOW_IPS (docs/deployment.md) or everyone shares the proxy's address.",
        parse_int(1, 100_000),
    )
    login_window_seconds: int = setting(
        "ATELIER_LOGIN_WINDOW_SECONDS",
        "3600",
        "How long failed sign-ins are remembered (a success forgets those of its own account "
        "and address). Long enough that waiting between bursts gains an attacker nothing.",
        parse_int(1, 86400),
    )
    smtp_host: str = setting(
        "ATELIER_SMTP_HOST",
        "",
        "SMTP server for outgoing mail; empty means mail is only kept in the outbox "
        "(readable by instance admins at /admin/courriels) and noted in the log.",
        parse_text,
    )
    smtp_port: int = setting(
        "ATELIER_SMTP_PORT",
        "587",
        "SMTP server port.",
        parse_int(1, 65535),
    )
    smtp_security: str = setting(
        "ATELIER_SMTP_SECURITY",
        "starttls",
        "SMTP connection security: starttls, tls (implicit, usually port 465) or none.",
        parse_choice("starttls", "tls", "none"),
    )
    smtp_user: str = setting(
        "ATELIER_SMTP_USER",
        "",
        "SMTP user name; empty: no login.",
        parse_text,
    )
    smtp_password: str = setting(
        "ATELIER_SMTP_PASSWORD",
        "",
        "SMTP password.",
        parse_text,
    )
    mail_from: str = setting(
        "ATELIER_MAIL_FROM",
        "atelier@localhost",
        "Sender address of the mails the instance sends.",
        parse_text,
    )
    oidc_discovery_url: str = setting(
        "ATELIER_OIDC_DISCOVERY_URL",
        "",
        "OpenID Connect discovery URL (`.../.well-known/openid-configuration`), e.g. "
        "ProConnect's; with a client id it adds a sign-in button. Empty: local accounts only.",
        parse_url("http", "https"),
    )
    oidc_client_id: str = setting(
        "ATELIER_OIDC_CLIENT_ID",
        "",
        "OpenID Connect client id.",
        parse_text,
    )
    oidc_client_secret: str = setting(
        "ATELIER_OIDC_CLIENT_SECRET",
        "",
        "OpenID Connect client secret.",
        parse_text,
    )
    oidc_scopes: str = setting(
        "ATELIER_OIDC_SCOPES",
        "openid email profile",
        "Scopes asked of the OpenID Connect provider (ProConnect: `openid email given_name "
        "usual_name`).",
        parse_text,
    )
    oidc_label: str = setting(
        "ATELIER_OIDC_LABEL",
        "ProConnect",
        "Name of the OpenID Connect provider on the sign-in button.",
        parse_text,
    )
    oidc_trust_email: bool = setting(
        "ATELIER_OIDC_TRUST_EMAIL",
        "false",
        "`true`: take the OpenID Connect provider's addresses as verified when its claims "
        "carry no `email_verified`; only for a provider that verifies every address itself "
        "(ProConnect is reported to send no such claim: check yours). `false`: an identity "
        "seen for the first time gets an account, or is linked to the account of its address, "
        "only with `email_verified: true`.",
        parse_flag,
    )
    visio_host_addresses: str = setting(
        "ATELIER_VISIO_HOST_ADDRESSES",
        "",
        "Comma-separated IP addresses the meeting server (SFU) offers as ICE host candidates "
        "for UDP media; empty means every non-loopback interface. `127.0.0.1` keeps media on "
        "the machine (tests, benchmarks).",
        parse_ip_addresses,
    )
    visio_ice_servers: str = setting(
        "ATELIER_VISIO_ICE_SERVERS",
        "",
        "Space-separated STUN/TURN URLs used by the SFU and given to browsers "
        "(`stun:turn.example.org:3478 turn:turn.example.org:3478?transport=udp`); empty means "
        "none: host candidates only, no public STUN server. See docs/visio.md for coturn.",
        parse_ice_urls,
    )
    visio_turn_username: str = setting(
        "ATELIER_VISIO_TURN_USERNAME",
        "",
        "User name for the TURN servers of ATELIER_VISIO_ICE_SERVERS.",
        parse_text,
    )
    visio_turn_password: str = setting(
        "ATELIER_VISIO_TURN_PASSWORD",
        "",
        "Password (credential) for the TURN servers of ATELIER_VISIO_ICE_SERVERS.",
        parse_text,
    )
    visio_public_address: str = setting(
        "ATELIER_VISIO_PUBLIC_ADDRESS",
        "",
        "Public IP address the SFU advertises instead of its host address, when it sits "
        "behind a one-to-one NAT (a cloud VM's public IP); empty: advertise host addresses.",
        parse_ip_addresses,
    )
    visio_udp_ports: tuple[int, int] | None = setting(
        "ATELIER_VISIO_UDP_PORTS",
        "",
        "UDP ports the SFU receives media on, `LOW-HIGH` (`40000-40999`, within 1024-65535): "
        "each participant takes two (its publish and subscribe connections) in the SFU process "
        "that runs its meeting; one that finds none free is refused (close 4503; the page "
        "retries and says the server is full). Empty: the kernel's ephemeral ports.",
        parse_port_range,
    )
    visio_max_participants: int = setting(
        "ATELIER_VISIO_MAX_PARTICIPANTS",
        "50",
        "Most people in one meeting, lobby included; the next one is refused (close 4429).",
        parse_int(2, 1000),
    )
    visio_last_n: int = setting(
        "ATELIER_VISIO_LAST_N",
        "6",
        "Camera videos forwarded to each participant: the N most recent speakers, plus tiles "
        "they pinned and every screen share (audio is always forwarded).",
        parse_int(1, 100),
    )
    visio_mode: str = setting(
        "ATELIER_VISIO_MODE",
        "embedded",
        "`embedded`: meetings run in the web process (with REDIS_URL, in whichever worker "
        "saw the first join). `signaling`: web workers run no meetings and relay every join to "
        "a standalone SFU node (`atelier sfu`, the least loaded live one); needs REDIS_URL.",
        parse_choice("embedded", "signaling"),
    )
    visio_turn_secret: str = setting(
        "ATELIER_VISIO_TURN_SECRET",
        "",
        "Shared secret of coturn's `use-auth-secret` (`static-auth-secret=`): each participant "
        "gets TURN credentials of its own, valid 12 hours, instead of "
        "ATELIER_VISIO_TURN_USERNAME/PASSWORD. Set it on web workers and SFU nodes alike.",
        parse_text,
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read every setting from `env` (default: the process environment)."""
        source = os.environ if env is None else env
        values: dict[str, Any] = {}
        for row in SETTINGS:
            raw = source.get(row.name)
            if raw is None or raw.strip() == "":
                raw = row.default
            try:
                values[row.attribute] = row.parse(raw)
            except SettingsError as exc:
                raise SettingsError(f"setting {row.name}: {exc}") from None
        return cls(**values)

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).expanduser().resolve()

    @property
    def serves_loopback(self) -> bool:
        """True when the server listens on a loopback address only (tests, a laptop)."""
        host = self.host.strip("[]").lower()
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    @property
    def public_base_url(self) -> str:
        """The address every absolute link starts with (no trailing slash).

        ATELIER_PUBLIC_URL, else on loopback the address served; never a request's headers.
        """
        if self.public_url:
            return self.public_url.rstrip("/")
        host = self.host.strip("[]")
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    @property
    def public_host(self) -> str:
        """The host name of `public_base_url`, lower case, IPv6 without brackets."""
        return (urlsplit(self.public_base_url).hostname or "").lower()

    @property
    def accepted_hosts(self) -> frozenset[str]:
        """Host names a request may name in its `Host` header (IPv6 without brackets)."""
        names = {self.public_host, *self.allowed_hosts}
        if self.serves_loopback:
            names |= {"localhost", "127.0.0.1", "::1"}
        return frozenset(names)

    def check_serving(self) -> None:
        """Refuse to serve HTTP when links in mails would have no trustworthy address."""
        if not self.public_url and not self.serves_loopback:
            raise SettingsError(
                f"HOST={self.host} is not a loopback address, so ATELIER_PUBLIC_URL must say "
                "where people reach the instance (`ATELIER_PUBLIC_URL=https://atelier.example."
                "gouv.fr`): links in mails use it and requests for other host names are "
                "refused. Set it, or listen on 127.0.0.1."
            )

    def check(self) -> None:
        """Refuse combinations that would silently misbehave."""
        if self.workers > 1 and not self.redis_url:
            raise SettingsError(
                f"{self.workers} workers need REDIS_URL: without Redis each worker would hold "
                "its own copy of every document and users on different workers would not see "
                "each other's edits. Set REDIS_URL or run one worker."
            )
        if self.visio_mode == "signaling" and not self.redis_url:
            raise SettingsError(
                "ATELIER_VISIO_MODE=signaling needs REDIS_URL: meetings then run on "
                "standalone SFU nodes (`atelier sfu`) reached through Redis. Set REDIS_URL, "
                "or use ATELIER_VISIO_MODE=embedded to run meetings in this process."
            )


# The table of every setting, in declaration order (docs/settings.md documents each row).
SETTINGS: tuple[Setting, ...] = tuple(
    replace(f.metadata["setting"], attribute=f.name) for f in fields(Settings)
)
