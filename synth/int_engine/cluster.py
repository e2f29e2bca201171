"""Joining a Ray cluster by address, the way Ray's own CLI does, or a `ComputeError` that says what
to check.

A cluster started with `ray start` uses token authentication; `ray.init` with an explicit address
does not turn it on by itself, and a driver without the token is refused. `ray.init` would also
retry for about 20 s, with a warning a second, when the cluster refuses the driver, and without
end when nothing answers; so `join` checks the address first: a TCP connection, then, in a child
process that keeps Ray's messages off this one's stderr, what `ray status` does (ask the cluster
for its metadata, which checks the token, and compare Ray and Python versions).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import socket
import subprocess
import sys

from dsl.errors import ComputeError

#: Seconds allowed to open a TCP connection to a cluster's address, and to the child process that
#: then asks the cluster for its metadata (Ray's own client waits about 35 s when what answers
#: there is not a Ray cluster).
CONNECT_TIMEOUT = 5.0
CHECK_TIMEOUT = 30.0


def join(address: str) -> None:
    """Join the cluster at `address` with `ray.init`, or raise ComputeError saying what to check.

    "host:port" and "auto" are checked first (a Ray Client address, `ray://`, goes straight to
    `ray.init`). With RAY_AUTH_MODE unset, the check also finds whether the cluster requires a
    token; if it does, this process uses token authentication (RAY_AUTH_MODE=token, set here for
    Ray to read) with the token Ray's CLI would use: RAY_AUTH_TOKEN, the file at
    RAY_AUTH_TOKEN_PATH, or ~/.ray/auth_token. A cluster without authentication is joined
    without: a driver holding a token refuses that cluster's calls back to it (its tasks then
    fail with OwnerDiedError). The token itself is never printed.
    """
    if "://" not in address:
        _check_port(address)
        if _check_cluster(address) == "token" and "RAY_AUTH_MODE" not in os.environ:
            from ray._raylet import Config

            os.environ["RAY_AUTH_MODE"] = "token"       # Ray reads its settings from there
            Config.initialize("")                       # and caches them: read them again
    import ray

    try:
        ray.init(address=address, log_to_driver=False, ignore_reinit_error=True)
    except Exception as e:
        with contextlib.suppress(Exception):
            ray.shutdown()              # a half-made connection must not look initialised
        chain, cause = [], e
        while cause is not None and len(chain) < 10:
            chain.append(f"{type(cause).__name__}: {cause}")
            cause = cause.__cause__ or cause.__context__
        text = "\n".join(chain)
        kind = ("token" if "AuthenticationError" in text or "InvalidAuthToken" in text else
                "version" if "Version mismatch" in text else "error")
        raise ComputeError(_join_failure(address, kind, _one_line(chain[0]),
                                         os.environ.get("RAY_AUTH_MODE"))) from e


def _check_port(address: str) -> None:
    """ComputeError unless something accepts a TCP connection at `address` ("host:port"; other
    forms, such as "auto", are left to Ray)."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT).close()
    except OSError as e:
        reason = e.strerror or str(e) or type(e).__name__
        raise ComputeError(_join_failure(address, "unreachable", f"nothing answers there "
                                         f"({reason})", None)) from None


#: What `ray status` does, in a child process: ask the cluster for its metadata (which checks the
#: token) and compare its Ray and Python versions with this side's. With RAY_AUTH_MODE unset it
#: asks without a token first (Ray's default for an explicit address), and again with one when
#: the cluster requires it and a token is at hand. Prints one JSON line [verdict, detail, mode]:
#: the verdict one of ok, token, version, error, or unchecked (a Ray without these internals:
#: `ray.init` decides); mode the RAY_AUTH_MODE of the last attempt.
_CHECK = """
import json, os, platform, sys
chosen = "RAY_AUTH_MODE" in os.environ
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
try:
    import ray
    from ray._common.usage.usage_lib import get_cluster_metadata
    from ray._private.services import canonicalize_bootstrap_address_or_die
    from ray._private.utils import check_version_info
    from ray._raylet import AuthenticationTokenLoader, Config, GcsClient
    from ray.exceptions import AuthenticationError
except ImportError:
    verdict = ["unchecked", ""]
else:
    try:
        address = canonicalize_bootstrap_address_or_die(sys.argv[1])
        try:
            meta = get_cluster_metadata(GcsClient(address=address))
        except AuthenticationError:
            if chosen or not AuthenticationTokenLoader.instance().has_token(ignore_auth_mode=True):
                raise
            os.environ["RAY_AUTH_MODE"] = "token"
            Config.initialize("")
            meta = get_cluster_metadata(GcsClient(address=address))
        verdict = ["ok", ""]
        try:
            check_version_info(meta, "this driver")
        except RuntimeError:
            verdict = ["version", f"the cluster runs Ray {meta['ray_version']} on Python "
                       f"{meta['python_version']}, this side Ray {ray.__version__} on Python "
                       f"{platform.python_version()}"]
    except AuthenticationError as e:
        verdict = ["token", str(e)]
    except Exception as e:
        verdict = ["error", f"{type(e).__name__}: {e}"]
print(json.dumps([*verdict, os.environ["RAY_AUTH_MODE"]]))
"""


def _check_cluster(address: str) -> str | None:
    """The RAY_AUTH_MODE the cluster at `address` was reached with by `_CHECK` (None when the
    check could not run); ComputeError when it refused the token or runs other Ray or Python
    versions, or did not answer within CHECK_TIMEOUT seconds."""
    try:
        child = subprocess.run([sys.executable, "-c", _CHECK, address], capture_output=True,
                               text=True, timeout=CHECK_TIMEOUT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise ComputeError(_join_failure(address, "unreachable", f"no Ray cluster answered "
                                         f"within {CHECK_TIMEOUT:g} s", None)) from None
    try:
        kind, detail, mode = json.loads(child.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):     # the check itself failed: leave it to `ray.init`
        return None
    if kind not in ("ok", "unchecked"):
        raise ComputeError(_join_failure(address, kind, _one_line(detail), mode))
    return mode


def _join_failure(address: str, kind: str, detail: str, mode: str | None) -> str:
    """The one-line message for a failure to join: what happened (`kind`: unreachable, token,
    version, or error for anything else; `mode`: the RAY_AUTH_MODE of the attempt) and what to
    check."""
    head = f"cannot join the Ray cluster at {address}"
    status = f"`RAY_AUTH_MODE=token ray status --address {address}`"
    token = ("that RAY_AUTH_TOKEN (or else ~/.ray/auth_token) holds the cluster's token "
             "(`ray get-auth-token` on its head node prints it)")
    if kind == "unreachable":
        return (f"{head}: {detail}; check that a Ray cluster runs there ({status}) and that the "
                f"port is its GCS port (`ray start --head --port`)")
    if kind == "token":
        check = f"check {token}"
        if (mode or "").lower() == "token":
            why = f"it refused the token from {_token_source()}"
        elif "RAY_AUTH_MODE" in os.environ:
            why = f"it requires a token, and with RAY_AUTH_MODE={mode} none was sent"
            check = f"unset RAY_AUTH_MODE (or set it to token) and check {token}"
        else:
            why = ("it requires a token, and none was found (RAY_AUTH_TOKEN, "
                   "RAY_AUTH_TOKEN_PATH, ~/.ray/auth_token)")
        return f"{head}: {why}; {check}"
    if kind == "version":
        return f"{head}: {detail}; install the same Ray and Python versions on both sides"
    import ray

    return (f"{head}: {detail}; check that a cluster runs there ({status}), {token}, and that "
            f"both sides run Ray {ray.__version__} and Python {platform.python_version()}")


def _token_source() -> str:
    """Where Ray reads this process's token from (a name, never the token), in Ray's order."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return "RAY_AUTH_TOKEN"
    path = os.environ.get("RAY_AUTH_TOKEN_PATH")
    return f"RAY_AUTH_TOKEN_PATH ({path})" if path else "~/.ray/auth_token"


def _one_line(text: str) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[0] if lines else "unknown error"
