"""Run ``matcher serve`` as a separate process and wait until it is ready.

Shared by the benchmark (API load) and the tests that meet the service as a user would
(real HTTP, browser): one place knows how to start, probe and stop it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

MATCHER = str(Path(sys.executable).with_name("matcher"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment_for(data_dir: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment with ``data_dir`` as the store (SQLite under it)."""
    env = {**os.environ, **(extra or {}), "MATCHER_DATA_DIR": str(data_dir)}
    env.pop("MATCHER_DATABASE_URL", None)
    return env


def create_key(environment: Mapping[str, str], *args: str) -> str:
    """``matcher keys create ARGS`` in that environment; returns the key (its last line)."""
    created = subprocess.run(
        [MATCHER, "keys", "create", *args], env=dict(environment), capture_output=True, text=True, check=True
    )
    return created.stdout.splitlines()[-1]


@contextmanager
def serving(environment: Mapping[str, str], *, timeout: float = 600, workers: int = 1) -> Iterator[str]:
    """Start ``matcher serve`` (``workers`` processes) on a free port; yield its base URL once
    ``/readyz`` answers 200."""
    port = free_port()
    server = subprocess.Popen(
        [MATCHER, "serve", "--port", str(port), "--workers", str(workers)],
        env=dict(environment),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None:
                raise RuntimeError(f"matcher serve exited with status {server.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError("matcher serve did not become ready in time")
            time.sleep(0.5)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)
