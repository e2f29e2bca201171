"""`make demo`: the main job end to end.

Starts the job service (SQLite in a temporary data dir), submits bundled example networks over
HTTP, follows their progress, prints each verified program, its report and the link to its results
page, then says where to look before it stops the service (in a terminal it waits for Enter, so
the pages can be opened first). `--workers 1` runs the searches in-process instead of on Ray.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
#: Three integer functions, a physical law (a formula with its constant), a classifier over real
#: inputs (a decision rule) and a sequence classifier (an automaton): each is searched by its own
#: family.
EXAMPLES = [("mod_add_113", []), ("abs_diff", []), ("noisy_add", ["--min-agreement", "0.95"]),
            ("real_pendulum", []), ("policy_oblique", []), ("tomita4_short", [])]
ACCEPTED = re.compile(r"job ([0-9a-f]{32}) accepted")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=2, help="Ray workers per job (default 2)")
    parser.add_argument("--no-wait", action="store_true",
                        help="stop the service at the end without waiting for Enter")
    args = parser.parse_args(argv)
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    with tempfile.TemporaryDirectory(prefix="netsynth-demo-") as data:
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        print(f"demo: starting the job service at {url} (data in {data})", flush=True)
        server = subprocess.Popen(
            [sys.executable, "-m", "netsynth.cli", "serve", "--port", str(port), "--data-dir", data,
             "--workers", str(args.workers), "--log-level", "warning"], env=env)
        pages: list[tuple[str, str]] = []
        codes = []
        try:
            _wait_healthy(url, server)
            for name, extra in EXAMPLES:
                print(f"\n=== {name}: submit, follow, fetch ===", flush=True)
                code, job_id = _submit(url, name, extra, args.workers, env)
                codes.append(code)
                if job_id:
                    pages.append((name, f"{url}/ui/jobs/{job_id}"))
                    print(f"\nresults page of {name}: {url}/ui/jobs/{job_id}", flush=True)
            print("\ndemo: the results pages (network against program, Pareto front, "
                  "verification):", flush=True)
            width = max((len(n) for n, _ in pages), default=0)
            for name, link in pages:
                print(f"  {name:<{width}}  {link}")
            print(f"  {'all jobs':<{width}}  {url}/ui/jobs", flush=True)
            if sys.stdin.isatty() and not args.no_wait:
                input("\ndemo: open them now; press Enter to stop the service (the pages stop "
                      "with it) ")
        except (KeyboardInterrupt, EOFError):
            print()
        finally:
            print("demo: stopping the service", flush=True)
            server.terminate()
            server.wait(timeout=60)
    return 0 if codes and all(c == 0 for c in codes) else 1


def _submit(url: str, name: str, extra: list[str], workers: int,
            env: dict[str, str]) -> tuple[int, str | None]:
    """`netsynth submit --wait`, its progress passed through; prints the results page's link as
    soon as the job is accepted. Returns the exit code and the job's id."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "netsynth.cli", "submit", str(HERE / name / "spec.json"),
         "--server", url, "--wait", "--workers", str(workers), *extra],
        env=env, stderr=subprocess.PIPE, text=True, bufsize=1)
    job_id = None
    assert proc.stderr is not None
    for line in proc.stderr:
        sys.stderr.write(line)
        found = ACCEPTED.search(line)
        if found and job_id is None:
            job_id = found.group(1)
            print(f"watch it live: {url}/ui/jobs/{job_id}", file=sys.stderr, flush=True)
    return proc.wait(), job_id


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
