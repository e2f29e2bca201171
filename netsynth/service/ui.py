"""The results pages: a job list and one page per job (status live, program, Python, verification,
and a picture of the network against the program). Plain HTML strings, no template files."""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from html import escape
from typing import Any

from starlette.requests import Request

from netsynth.comparison import Comparison
from netsynth.service import picture
from netsynth.service.store import ENDED
from netsynth.service.store import JobRecord, Store

log = logging.getLogger("netsynth.service")

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
pre { background: #f6f6f6; padding: .8em; overflow-x: auto; }
table { border-collapse: collapse; } td, th { padding: .25em .7em; border-bottom: 1px solid #ddd;
text-align: left; } .status { font-weight: bold; } .maps { display: flex; gap: 1.5em;
flex-wrap: wrap; } .maps figure { margin: 0; } .maps img { width: 320px; height: 320px;
image-rendering: pixelated; border: 1px solid #ccc; } figcaption { text-align: center; }
"""

LIVE = """
<script>
(function () {
  const id = %s, ended = %s, endStates = %s;
  if (ended) return;
  async function poll() {
    try {
      const r = await fetch("/jobs/" + id, {headers: {Accept: "application/json"}});
      if (r.ok) {
        const job = await r.json();
        document.getElementById("status").textContent = job.status;
        const p = job.progress || {};
        document.getElementById("progress").textContent =
          "size " + (p.level ?? "-") + ", " + (p.candidates ?? 0) + " candidates, best agreement "
          + (p.best_agreement ?? 0) + ", " + (p.elapsed ?? 0).toFixed(1) + " s";
        if (endStates.includes(job.status)) { location.reload(); return; }
      }
    } catch (e) { /* the server may be restarting: keep polling */ }
    setTimeout(poll, 1000);
  }
  poll();
})();
</script>
"""


def wants_html(request: Request) -> bool:
    """Whether the client prefers HTML to JSON (a browser, not httpx or curl's */*)."""
    accept = request.headers.get("accept", "").lower()
    if "text/html" not in accept:
        return False
    json_at = accept.find("application/json")
    return json_at < 0 or accept.find("text/html") < json_at


class PictureCache:
    """Pictures of ended jobs, computed on request and kept for the most recent few."""

    def __init__(self, size: int = 32) -> None:
        self._size = size
        self._items: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, job: JobRecord, store: Store) -> str:
        with self._lock:
            if job.id in self._items:
                self._items.move_to_end(job.id)
                return self._items[job.id]
        html_ = render_picture(job, store)
        if job.ended:
            with self._lock:
                self._items[job.id] = html_
                while len(self._items) > self._size:
                    self._items.popitem(last=False)
        return html_


def render_picture(job: JobRecord, store: Store) -> str:
    """The pictures of a job's report, drawn from the comparison its report carries."""
    data = (job.report or {}).get("comparison")
    if not data:
        return "<p>No picture: this report carries no comparison of network and program.</p>"
    try:
        c = Comparison.from_dict(data)
    except (KeyError, TypeError, ValueError) as e:  # a picture is a nicety: keep the page
        log.warning("job %s: no picture: %s", job.id, e)
        return f"<p>No picture: {escape(type(e).__name__)}: {escape(str(e))}</p>"
    held = ", ".join(f"{k} = {v}" for k, v in c.fixed.items())
    note = f"<p>Other inputs held at {escape(held)}.</p>" if held else ""
    if len(c.names) == 1:
        return (f"<p>{escape(c.names[0])} from {c.axes[0][0]} to {c.axes[0][-1]}: network solid, "
                f"program dashed, disagreements in red ({int(c.wrong.sum())} of "
                f"{c.wrong.size}).</p>{picture.strip_chart(c)}{note}")
    figures = "".join(f'<figure><img alt="{escape(t)}" src="{uri}"><figcaption>{escape(t)}'
                      f"</figcaption></figure>" for t, uri in picture.heat_maps(c))
    x, y = c.names
    return (f"<p>Rows: {escape(x)} from {c.axes[0][0]} (top) to {c.axes[0][-1]}; columns: "
            f"{escape(y)} from {c.axes[1][0]} (left) to {c.axes[1][-1]}; "
            f"{len(c.axes[0])}&times;{len(c.axes[1])} cells. Colour: output from {c.lo} "
            f"(dark) to {c.hi} (yellow).</p><div class=\"maps\">{figures}</div>{note}")


#: The cookie a browser holds after signing in at /ui/login (the token itself, HttpOnly).
COOKIE = "netsynth_token"


def login_page(*, wanted: bool, wrong: bool = False) -> str:
    if not wanted:
        return page("netsynth", "<h1>netsynth</h1><p>This service has no token: "
                                "<a href=\"/ui/jobs\">see the jobs</a>.</p>")
    note = "<p class=\"bad\">That is not the service's token.</p>" if wrong else ""
    return page("netsynth: sign in", f"<h1>Sign in</h1>{note}<form method=\"post\" "
                "action=\"/ui/login\"><label>Token <input type=\"password\" name=\"token\" "
                "autocomplete=\"current-password\" required></label> <button>Sign in</button>"
                "</form><p>The token is the server's NETSYNTH_TOKEN. The browser keeps it in a "
                "cookie for reading pages; submitting and cancelling jobs still need the "
                "<code>Authorization</code> header.</p>")


def page(title: str, body: str) -> str:
    return (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>{escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>{body}</body></html>")


def job_page(job: JobRecord, out: dict[str, Any], *, picture: str | None) -> str:
    report = job.report or {}
    p = job.progress or {}
    rows = [("status", f'<span class="status" id="status">{escape(job.status)}</span>'),
            ("progress", f'<span id="progress">size {p.get("level", "-")}, '
                         f'{p.get("candidates", 0)} candidates, best agreement '
                         f'{p.get("best_agreement", 0)}, {float(p.get("elapsed") or 0):.1f} s</span>'),
            ("created", out["created"]), ("started", out["started"]), ("finished", out["finished"]),
            ("attempts", job.attempts), ("stop reason", job.stop_reason), ("error", job.error),
            ("result", report.get("status")), ("options", json.dumps(job.options))]
    table = "".join(f"<tr><th>{k}</th><td>{v if k in ('status', 'progress') else escape(str(v))}"
                    f"</td></tr>" for k, v in rows if v is not None)
    parts = [f"<p><a href=\"/ui/jobs\">all jobs</a></p><h1>{escape(str(job.spec.get('name')))} "
             f"<small>{escape(job.id)}</small></h1><table>{table}</table>"]
    if report.get("program"):
        parts.append(f"<h2>Program</h2><pre id=\"program\">{escape(report['program'])}</pre>")
    if report.get("python"):
        parts.append(f"<h2>Python</h2><pre id=\"python\">{escape(report['python'])}</pre>"
                     f"<p><a href=\"/jobs/{escape(job.id)}/program.py\">program.py</a> &middot; "
                     f"<a href=\"/jobs/{escape(job.id)}/result\">report JSON</a></p>")
    if picture:
        parts.append(f"<h2>Network against program</h2>{picture}")
    for key, title in (("fidelity", "Fidelity"), ("verification", "Verification")):
        if report.get(key) is not None:
            parts.append(f"<h2>{title}</h2><pre>{escape(json.dumps(report[key], indent=2))}</pre>")
    parts.append(LIVE % (json.dumps(job.id), "true" if job.ended else "false", json.dumps(list(ENDED))))
    return page(f"netsynth job {job.id}", "".join(parts))


def job_list_page(jobs: list[JobRecord], *, total: int, limit: int, offset: int) -> str:
    rows = "".join(
        f"<tr><td><a href=\"/ui/jobs/{escape(j.id)}\">{escape(j.id[:12])}</a></td>"
        f"<td>{escape(str(j.spec.get('name')))}</td><td>{escape(j.status)}</td>"
        f"<td>{escape(str((j.report or {}).get('status') or ''))}</td>"
        f"<td>{escape(j.created.isoformat(timespec='seconds'))}Z</td>"
        f"<td><code>{escape(str((j.report or {}).get('program') or ''))}</code></td></tr>"
        for j in jobs)
    nav = []
    if offset > 0:
        nav.append(f"<a href=\"/ui/jobs?limit={limit}&offset={max(0, offset - limit)}\">newer</a>")
    if offset + limit < total:
        nav.append(f"<a href=\"/ui/jobs?limit={limit}&offset={offset + limit}\">older</a>")
    return page("netsynth jobs", f"<h1>Jobs</h1><p>{total} in all.</p><table><tr><th>id</th>"
                f"<th>spec</th><th>status</th><th>result</th><th>created</th><th>program</th></tr>"
                f"{rows}</table><p>{' &middot; '.join(nav)}</p>")
