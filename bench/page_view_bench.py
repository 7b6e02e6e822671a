"""Page view benchmark: server time for `/espaces/{slug}/pages/{id}` under concurrent users.

One `atelier serve` (one worker, SQLite) on loopback; N members of a space sign in, then all
of them load the same page view over and over at once (HTTP keep-alive, one connection each).
Latency is measured by the client from request to full response.

    .venv/bin/python bench/page_view_bench.py [--users 50] [--requests 20] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.servers import AtelierServer  # noqa: E402
from web.accounts.users import create_user  # noqa: E402
from web.database import create_engine, database_url  # noqa: E402
from web.spaces.services import add_member, create_space  # noqa: E402
from web.spaces.tree import create_page  # noqa: E402

PASSWORD = "un mot de passe solide"
CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


class Actor:
    def __init__(self, user_id: int) -> None:
        self.id = user_id
        self.role = "agent"
        self.guest_link_id: int | None = None


async def seed(data_dir: Path, users: int) -> tuple[dict[str, str], list[str]]:
    """A space of 30 pages and `users` members: paths of a top-level and a deep page, emails."""
    engine = create_engine(database_url(data_dir.resolve(), None))
    try:
        emails = [f"agent{i}@bench.gouv.fr" for i in range(users)]
        ids = [
            await create_user(engine, email=e, display_name=f"Agent {i}", password=PASSWORD)
            for i, e in enumerate(emails)
        ]
        owner = Actor(ids[0])
        space = await create_space(engine, owner, name="Banc d'essai")
        for user_id in ids[1:]:
            await add_member(engine, owner, space.id, user_id, "editor")
        base = f"/espaces/{space.slug}/pages/"
        top = await create_page(engine, owner, space.id, "Accueil")
        for i in range(19):  # siblings, so the link dialog lists a real tree
            await create_page(engine, owner, space.id, f"Page {i}")
        parent = top.id
        for depth in range(10):  # a chain: the deep page has 10 ancestors
            deep = await create_page(engine, owner, space.id, f"Niveau {depth}", parent_id=parent)
            parent = deep.id
        paths = {"top-level page": base + str(top.id), "page 10 levels deep": base + str(parent)}
        return paths, emails
    finally:
        await engine.dispose()


async def sign_in(client: httpx.AsyncClient, email: str) -> None:
    form = await client.get("/connexion")
    match = CSRF.search(form.text)
    assert match, "no CSRF token on the sign-in page"
    response = await client.post(
        "/connexion", data={"email": email, "password": PASSWORD, "csrf_token": match.group(1)}
    )
    assert response.status_code == 303, f"sign-in failed for {email}: {response.status_code}"


async def user_loop(client: httpx.AsyncClient, path: str, count: int, out: list[float]) -> None:
    for _ in range(count):
        start = time.perf_counter()
        response = await client.get(path)
        elapsed = time.perf_counter() - start
        assert response.status_code == 200, response.status_code
        out.append(elapsed * 1000)


def summary(values: list[float], wall: float) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "requests": len(values),
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 1),
        "p99_ms": round(ordered[int(0.99 * (len(ordered) - 1))], 1),
        "requests_per_s": round(len(values) / wall, 1),
    }


async def run(
    server: AtelierServer, paths: dict[str, str], emails: list[str], count: int
) -> dict[str, Any]:
    clients = [
        httpx.AsyncClient(base_url=server.http_url, timeout=60, follow_redirects=False)
        for _ in emails
    ]
    try:
        for client, email in zip(clients, emails, strict=True):
            await sign_in(client, email)
        results: dict[str, Any] = {}
        for name, path in paths.items():
            for client in clients:  # warm up: templates compiled, connections open
                assert (await client.get(path)).status_code == 200
            latencies: list[float] = []
            start = time.perf_counter()
            await asyncio.gather(*(user_loop(c, path, count, latencies) for c in clients))
            results[name] = summary(latencies, time.perf_counter() - start)
        return results
    finally:
        for client in clients:
            await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--requests", type=int, default=20, help="page loads per user")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data:
        server = AtelierServer(Path(data)).start()
        try:
            paths, emails = asyncio.run(seed(Path(data), args.users))
            results = {
                "users": args.users,
                "page view": asyncio.run(run(server, paths, emails, args.requests)),
            }
        finally:
            server.stop()
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
