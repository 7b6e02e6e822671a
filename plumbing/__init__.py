"""Shared plumbing beside the engines: the bus between workers, the token bucket, the registry
of live sockets. `realtime/`, `sfu/` and the web app stand on it; it imports none of them."""
