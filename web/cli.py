"""The `atelier` command: serve, migrate, token."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence

from web.auth.tokens import load_secret_key, mint_document_token
from web.config import Settings, SettingsError
from web.database import database_url, migrate, prepare_data_dir


def _settings(overrides: dict[str, str | None]) -> Settings:
    env = dict(os.environ)
    env.update({k: v for k, v in overrides.items() if v is not None})
    settings = Settings.from_env(env)
    settings.check()
    # Workers started by uvicorn read the same environment.
    os.environ.update({k: v for k, v in overrides.items() if v is not None})
    return settings


def _migrate(settings: Settings) -> None:
    prepare_data_dir(settings.data_path)
    migrate(database_url(settings.data_path, settings.database_url or None))


def _raise_open_files_limit() -> None:
    """Each WebSocket is a file descriptor: allow as many as the system lets us."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY:
            hard = 1 << 20
        if soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ImportError, ValueError, OSError):
        pass


# What uvicorn imports and calls in each worker.
APP_FACTORY = "web.app:serve_app"
# uvicorn's sans-I/O WebSocket protocol plus the direct path /sync uses (plumbing/wsdirect.py).
WS_PROTOCOL = "plumbing.wsdirect:DirectWebSocketProtocol"


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(
        {
            "HOST": args.host,
            "PORT": None if args.port is None else str(args.port),
            "ATELIER_WORKERS": None if args.workers is None else str(args.workers),
        }
    )
    settings.check_serving()
    import uvicorn

    _raise_open_files_limit()
    _migrate(settings)
    load_secret_key(settings.secret_key, settings.data_path)  # made once, before workers fork
    listening = f"[{settings.host}]" if ":" in settings.host else settings.host
    print(
        f"Atelier: {settings.public_base_url}/ (listening on {listening}:{settings.port})",
        flush=True,
    )
    _print_first_admin_link(settings)
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level,
        ws_max_size=settings.max_message_bytes + 1024,
        # Yjs messages are small binary diffs: compressing them costs CPU and latency on
        # both ends for little gain (the reference servers do not offer it either).
        ws_per_message_deflate=False,
        ws=WS_PROTOCOL,
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        timeout_graceful_shutdown=5,
        access_log=False,
    )
    return 0


def _print_first_admin_link(settings: Settings) -> None:
    """On an empty database, print the one-time link that creates the first administrator."""
    import asyncio

    from web.accounts.first_admin import first_admin_link

    url = database_url(settings.data_path, settings.database_url or None)
    link = asyncio.run(first_admin_link(url, settings.public_base_url))
    if link:
        print(
            f"No administrator yet. Create the first one (this link works once):\n  {link}",
            flush=True,
        )


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = _settings({})
    _migrate(settings)
    print("database is up to date")
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    settings = _settings({})
    secret = load_secret_key(settings.secret_key, settings.data_path)
    ttl = args.ttl if args.ttl is not None else settings.token_ttl_seconds
    if ttl <= 0:
        raise SettingsError("--ttl must be a positive number of seconds")
    token = mint_document_token(
        secret,
        prefix=args.docs,
        writable=args.access == "rw",
        ttl=ttl,
        now=time.time(),
        name=args.name or "",
    )
    scope = "read-write" if args.access == "rw" else "read-only"
    print(f"{scope} token for documents starting with {args.docs!r}, valid {ttl} s:")
    print(token)
    return 0


def cmd_sfu(args: argparse.Namespace) -> int:
    """A standalone SFU node (docs/visio.md, "Running it"): Redis and settings, no HTTP."""
    settings = _settings({})
    if not settings.redis_url:
        raise SettingsError(
            "`atelier sfu` needs REDIS_URL: an SFU node receives its meetings' signaling from "
            "the web workers (ATELIER_VISIO_MODE=signaling) through Redis. Set REDIS_URL, or "
            "run meetings inside `atelier serve` (ATELIER_VISIO_MODE=embedded, the default)."
        )
    import asyncio

    from web.visio.standalone import run_sfu_node

    _raise_open_files_limit()
    try:
        # uvloop, as under `atelier serve`: a cheaper loop for a process that mostly moves
        # UDP datagrams (uvicorn's "standard" extra brings it where it builds).
        import uvloop

        loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - platforms without uvloop
        loop_factory = None
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(run_sfu_node(settings))
    except ConnectionError as exc:
        print(f"atelier sfu: {exc}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="atelier", description="Atelier collaboration server")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the web server (migrates first)")
    serve.add_argument("--host", help="listen address (default: HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (default: PORT or 8000)")
    serve.add_argument("--workers", type=int, help="worker processes (>1 needs REDIS_URL)")
    serve.set_defaults(run=cmd_serve)
    mig = sub.add_parser("migrate", help="create or upgrade the database")
    mig.set_defaults(run=cmd_migrate)
    tok = sub.add_parser("token", help="print a signed token for /sync/{doc}?token=")
    tok.add_argument("--docs", required=True, metavar="PREFIX", help="document name prefix")
    tok.add_argument("--access", choices=["rw", "ro"], default="rw", help="rw or ro")
    tok.add_argument("--ttl", type=int, metavar="SECONDS", help="lifetime in seconds")
    tok.add_argument("--name", help="display name carried by the token")
    tok.set_defaults(run=cmd_token)
    node = sub.add_parser(
        "sfu", help="run a standalone SFU node for ATELIER_VISIO_MODE=signaling (REDIS_URL)"
    )
    node.set_defaults(run=cmd_sfu)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = os.environ.get("ATELIER_LOG_LEVEL", "info").strip().upper()
    logging.basicConfig(
        level=level if level in {"DEBUG", "INFO", "WARNING", "ERROR"} else "INFO",
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        result: int = args.run(args)
    except SettingsError as exc:
        print(f"atelier: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return result


if __name__ == "__main__":
    sys.exit(main())
