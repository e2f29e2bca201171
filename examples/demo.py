"""`make demo`: the main job end to end.

Starts the job service (SQLite in a temporary data dir, an embedded local Ray), submits bundled
example networks over HTTP, follows their progress, prints each verified program and its report,
and stops the service. `--workers 1` runs the searches in-process instead of on Ray.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
EXAMPLES = [("mod_add_113", []), ("abs_diff", []), ("noisy_add", ["--min-agreement", "0.95"])]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=2, help="Ray workers per job (default 2)")
    args = parser.parse_args(argv)
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    with tempfile.TemporaryDirectory(prefix="netsynth-demo-") as data:
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        print(f"demo: starting the job service at {url} (data in {data})", flush=True)
        server = subprocess.Popen(
            [sys.executable, "-m", "netsynth.cli", "serve", "--port", str(port), "--data-dir", data,
             "--workers", str(args.workers), "--log-level", "warning"], env=env)
        try:
            _wait_healthy(url, server)
            codes = []
            for name, extra in EXAMPLES:
                print(f"\n=== {name}: submit, follow, fetch ===", flush=True)
                codes.append(subprocess.call(
                    [sys.executable, "-m", "netsynth.cli", "submit", str(HERE / name / "spec.json"),
                     "--server", url, "--wait", "--workers", str(args.workers), *extra],
                    env=env))
            print(f"\ndemo: results pages stay at {url}/ui/jobs while the service runs; "
                  f"stopping it now", flush=True)
        finally:
            server.terminate()
            server.wait(timeout=60)
    return 0 if all(c == 0 for c in codes) else 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, server: subprocess.Popen, *, limit: float = 120.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"demo: the service exited with code {server.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)   # polling a starting server; the loop is bounded by `limit`
    raise SystemExit(f"demo: the service did not answer at {url} within {limit:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
