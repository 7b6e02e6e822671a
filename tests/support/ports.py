"""Free ports on loopback: one TCP port, a run of UDP ports, and whether a port answers."""

from __future__ import annotations

import random
import socket
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_answers(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def ephemeral_ports() -> tuple[int, int]:
    """The kernel's ephemeral port range, where the bots' own sockets are bound."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_range(count: int) -> tuple[int, int]:
    """`count` consecutive UDP ports free on 127.0.0.1, outside the kernel's ephemeral range
    (so that no bot's socket takes one of them)."""
    first, last = ephemeral_ports()
    spans = [(1024, first - count), (last + 1, 65536 - count)]
    spans = [(a, b) for a, b in spans if b - a >= 1000]
    assert spans, "no room outside the ephemeral port range"
    for _ in range(200):
        low = random.randint(*random.choice(spans))
        sockets: list[socket.socket] = []
        try:
            for port in range(low, low + count):
                sockets.append(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
                sockets[-1].bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
        return low, low + count - 1
    raise AssertionError("no free UDP port range found")
