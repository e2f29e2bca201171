"""Status-read latency of the job service under load (issue 15, item 9). Not a test: it prints.

Starts a real server (`python -m netsynth.service`, a temporary data folder, 127.0.0.1 only),
then measures `GET /jobs/{id}` from `--pollers` concurrent clients (httpx, async, one connection
each), every client polling every `--interval` seconds for `--seconds` seconds:
1. baseline: nothing running;
2. load: `--searches` searches running (examples/noisy_add at min_agreement 1 with a large
   max_size, which has no exact small program: each runs to its memory budget, 10 to 30 s; a
   queue of them keeps `--searches` running through the phase, counted from /healthz).
Prints the median, p95 and p99 latency and the errors of each phase. Traffic goes to 127.0.0.1
only, every loop is bounded in count and time, and the server is stopped at the end.

    .venv/bin/python bench/status_latency.py                    # 100 pollers, 2 searches
    .venv/bin/python bench/status_latency.py --cwd /tmp/old     # the server of another checkout
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
NOISY = ROOT / "examples" / "noisy_add"
ABS = ROOT / "examples" / "abs_diff"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pollers", type=int, default=100)
    ap.add_argument("--interval", type=float, default=0.5, help="seconds between a client's reads")
    ap.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    ap.add_argument("--searches", type=int, default=2)
    ap.add_argument("--processes", type=int, default=4,
                    help="client processes the pollers are spread over (one event loop each, so "
                         "the clients' own queueing is not counted as the server's latency)")
    ap.add_argument("--cwd", type=Path, default=ROOT, help="checkout whose server to run")
    ap.add_argument("--server-arg", action="append", default=[], help="extra server argument")
    args = ap.parse_args()
    if not (1 <= args.pollers <= 1000 and 0 < args.seconds <= 600 and args.interval > 0
            and 1 <= args.processes <= min(args.pollers, 32)):
        ap.error("pollers in 1..1000, seconds in (0, 600], interval > 0, "
                 "processes in 1..min(pollers, 32)")

    with tempfile.TemporaryDirectory(prefix="netsynth-bench-") as data:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log = open(Path(data) / "server.log", "wb")
        env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
        env.pop("NETSYNTH_TOKEN", None)
        server = subprocess.Popen([sys.executable, "-m", "netsynth.service", "--host", "127.0.0.1",
                                   "--port", str(port), "--data-dir", data, "--workers", "1",
                                   "--max-jobs", str(max(1, args.searches)), *args.server_arg],
                                  cwd=args.cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait(lambda: healthy(url), 60, "the server to answer /healthz")
            idle = submit(url, ABS, {"timeout": "30", "max_size": "6"})
            wait(lambda: status(url, idle) in ("succeeded", "failed"), 120, "a first job to end")
            print(f"server: {args.cwd} (pid {server.pid}); {args.pollers} pollers in "
                  f"{args.processes} client processes, one read each {args.interval} s, "
                  f"{args.seconds} s per phase; {os.cpu_count()} cores; load average "
                  f"{os.getloadavg()[0]:.1f}")
            report("baseline (no search running)", poll_all(url, [idle], args))
            # a search ends in about 10 to 30 s (its memory budget): a queue of them keeps
            # `searches` running through the whole phase, and /healthz says how many ran
            queued = [submit(url, NOISY, {"timeout": "600", "max_size": "40",
                                          "min_agreement": "1"})
                      for _ in range(args.searches * (2 + int(args.seconds // 5)))]
            wait(lambda: all(searching(url, j) for j in queued[:args.searches]), 120,
                 "the searches to report progress")
            with ThreadPoolExecutor(1) as clients:
                result = clients.submit(poll_all, url, queued, args)
                running = []
                while not result.done():
                    running.append(httpx.get(url + "/healthz", timeout=30).json()["running"])
                    time.sleep(0.25)                      # a sampling period, not a wait
            report(f"load ({args.searches} searches running, load average "
                   f"{os.getloadavg()[0]:.1f})", result.result())
            full = sum(r >= args.searches for r in running)
            print(f"searches running: {args.searches} in {full} of {len(running)} samples of "
                  f"/healthz during the phase")
            for j in queued:
                httpx.post(f"{url}/jobs/{j}/cancel", timeout=30)
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(10)
            log.close()
    return 0


def poll_all(url: str, ids: list[str],
             args: argparse.Namespace) -> tuple[list[float], int, int]:
    """`poll` in `args.processes` processes at once, the pollers shared out among them; their
    results joined."""
    from concurrent.futures import ProcessPoolExecutor

    shares = [args.pollers // args.processes + (k < args.pollers % args.processes)
              for k in range(args.processes)]
    with ProcessPoolExecutor(args.processes) as pool:
        parts = list(pool.map(_poll_share, [(url, ids, args, n, k) for k, n in enumerate(shares)]))
    return ([t for lat, _, _ in parts for t in lat], sum(p[1] for p in parts),
            sum(p[2] for p in parts))


def _poll_share(job: tuple) -> tuple[list[float], int, int]:
    url, ids, args, count, first = job
    return asyncio.run(poll(url, ids, args, count=count, first=first))


async def poll(url: str, ids: list[str], args: argparse.Namespace, *, count: int,
               first: int = 0) -> tuple[list[float], int, int]:
    """(latencies in seconds, errors, non-200 answers) of `count` clients' reads."""
    latencies: list[float] = []
    errors = [0, 0]
    end = time.monotonic() + args.seconds
    most = int(args.seconds / args.interval) + 2          # a bound on each client's reads

    async def client(i: int) -> None:
        job_id = ids[i % len(ids)]
        async with httpx.AsyncClient(base_url=url, timeout=30,
                                     limits=httpx.Limits(max_connections=1)) as http:
            await asyncio.sleep(random.uniform(0, args.interval))    # spread the clients out
            for _ in range(most):
                if time.monotonic() >= end:
                    return
                t0 = time.perf_counter()
                try:
                    r = await http.get(f"/jobs/{job_id}")
                except httpx.HTTPError:
                    errors[0] += 1
                else:
                    latencies.append(time.perf_counter() - t0)
                    errors[1] += r.status_code != 200
                await asyncio.sleep(max(0.0, args.interval - (time.perf_counter() - t0)))

    await asyncio.gather(*(client(first + i) for i in range(count)))
    return latencies, errors[0], errors[1]


def report(name: str, result: tuple[list[float], int, int]) -> None:
    lat, errors, bad = result
    if not lat:
        print(f"{name}: no answers, {errors} connection errors")
        return
    q = statistics.quantiles(lat, n=100, method="inclusive")
    print(f"{name}: {len(lat)} reads, median {1000 * statistics.median(lat):.1f} ms, "
          f"p95 {1000 * q[94]:.1f} ms, p99 {1000 * q[98]:.1f} ms, max {1000 * max(lat):.1f} ms, "
          f"{errors} connection errors, {bad} non-200 answers")


def submit(url: str, example: Path, fields: dict[str, str]) -> str:
    files = {"spec": ("spec.json", (example / "spec.json").read_bytes()),
             "model": ("model.onnx", (example / "model.onnx").read_bytes())}
    r = httpx.post(url + "/jobs", files=files, data=fields, timeout=120)
    r.raise_for_status()
    return r.json()["id"]


def status(url: str, job_id: str) -> str:
    return httpx.get(f"{url}/jobs/{job_id}", timeout=30).json()["status"]


def searching(url: str, job_id: str) -> bool:
    j = httpx.get(f"{url}/jobs/{job_id}", timeout=30).json()
    return j["status"] == "running" and bool(j.get("progress"))


def healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def wait(probe, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return
        time.sleep(0.2)
    raise SystemExit(f"bench: timed out waiting for {what}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    sys.exit(main())
