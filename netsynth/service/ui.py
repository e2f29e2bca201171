"""The results pages: the job list (with a submit form) and one page per job (live status with a
cancel button while it runs; the report, its pictures and its Pareto front once it has ended).

Plain HTML strings. Every text from a job or a report is escaped; the pages' scripts read their
data from a JSON block (never from text spliced into code), attach their handlers with
`addEventListener` (no inline handlers, no eval), write text with `textContent`, and load nothing
from elsewhere: the pictures are inline PNGs (`netsynth.pictures`, cached by `picture`).
"""

from __future__ import annotations

import datetime as dt
import json
from html import escape
from typing import Any

from starlette.requests import Request

from netsynth import render
from netsynth.service.picture import PictureCache  # noqa: F401  (the app's cache of figures)
from netsynth.service.store import ENDED, JobRecord

#: The cookie a browser holds after signing in at /ui/login (the token itself, HttpOnly).
COOKIE = "netsynth_token"

STYLE = """
[hidden] { display: none !important; } a { color: #2456b3; } .muted { color: #667; }
body { font: 15px/1.5 system-ui, sans-serif; margin: 0; color: #1d2330; }
main { max-width: 1180px; margin: 0 auto; padding: 0 1.5em 3em; }
header.top { background: #1d2330; padding: .6em 1.5em; display: flex; gap: 1.5em; }
header.top a { color: #cfd6e6; text-decoration: none; } header.top a.brand { color: #fff; font-weight: 700; }
h1 { font-size: 1.6em; margin: .9em 0 .2em; } h2 { font-size: 1.2em; margin: 1.6em 0 .5em; }
code, pre { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .92em; }
.chip { display: inline-block; padding: .05em .6em; border-radius: 1em; font-size: .8em;
  font-weight: 600; vertical-align: middle; background: #e4e7ee; color: #333; }
.chip.succeeded, .chip.solved { background: #d7f0dd; color: #17642c; }
.chip.running { background: #dbe7fb; color: #1c4c9c; } .chip.cancelled { background: #e2e2e2; }
.chip.failed, .chip.nothing-found { background: #fadbd9; color: #9b1c14; }
.chip.approximate, .chip.interrupted { background: #fcefd2; color: #81570a; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .25em 1.2em; margin: .6em 0; }
dl.facts dt { color: #667; } dl.facts dd { margin: 0; } dl.facts .row { display: contents; } progress { width: 18em; vertical-align: middle; }
section.live { border: 1px solid #c9d6ee; background: #f6f9ff; border-radius: 6px; padding: 0 1.2em 1em; }
section.live h2 { margin-top: .8em; }
button { font: inherit; padding: .35em 1em; border-radius: 4px; border: 1px solid #99a;
  background: #fff; cursor: pointer; } button:disabled { opacity: .55; cursor: default; }
button.danger { border-color: #c0392b; color: #a52a1f; }
button.primary { background: #2456b3; color: #fff; border-color: #2456b3; }
.message { margin-left: .8em; } .message.bad, .field-error { color: #a52a1f; }
.codebox { position: relative; } .copy { position: absolute; top: .4em; right: .4em; font-size: .8em; }
table.jobs { border-collapse: collapse; width: 100%; } table.jobs th { color: #667; font-size: .9em; }
table.jobs td, table.jobs th { padding: .4em .6em; border-bottom: 1px solid #e2e2e2; text-align: left;
  vertical-align: top; } table.jobs .num { text-align: right; white-space: nowrap; }
table.jobs code { display: inline-block; max-width: 26em; overflow: hidden; text-overflow: ellipsis;
  white-space: nowrap; vertical-align: bottom; }
form.submit { display: grid; grid-template-columns: repeat(auto-fit, minmax(12em, 1fr)); gap: .8em 1.2em;
  border: 1px solid #dde; border-radius: 6px; padding: 1em 1.2em; background: #fafbfc; }
form.submit label { display: flex; flex-direction: column; gap: .2em; font-size: .9em; }
form.submit .actions { grid-column: 1 / -1; } .field-error { font-size: .85em; }
"""

#: The tab's icon, inline (a browser asks for /favicon.ico otherwise, and logs its 404).
ICON = ("data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E"
        "%3Crect width='16' height='16' rx='3' fill='%231d2330'/%3E%3Cpath d='M4 12V4l8 8V4' "
        "stroke='%23fff' stroke-width='1.8' fill='none'/%3E%3C/svg%3E")

JOB_SCRIPT = """
(() => {
  const cfg = JSON.parse(document.getElementById("page-data").textContent);
  const $ = (id) => document.getElementById(id);
  for (const pre of document.querySelectorAll("pre#python")) {
    const b = document.createElement("button");
    b.type = "button"; b.className = "copy"; b.textContent = "Copy";
    const box = document.createElement("div"); box.className = "codebox";
    pre.replaceWith(box); box.append(b, pre);
    b.addEventListener("click", async () => {
      try { await navigator.clipboard.writeText(pre.textContent); b.textContent = "Copied"; }
      catch (e) {
        const range = document.createRange(); range.selectNodeContents(pre);
        const sel = getSelection(); sel.removeAllRanges(); sel.addRange(range);
        b.textContent = document.execCommand("copy") ? "Copied" : "Selected: press Ctrl+C";
      }
      setTimeout(() => { b.textContent = "Copy"; }, 2000);
    });
  }
  if (cfg.ended) return;
  const num = (n) => Number(n).toLocaleString("en");
  const secs = (s) => s < 60 ? s.toFixed(1) + " s" : Math.floor(s / 60) + " min " +
    String(Math.floor(s % 60)).padStart(2, "0") + " s";
  let base = null, status = cfg.status;
  function tick() {
    if (!base || status !== "running") return;
    const e = base[0] + (performance.now() - base[1]) / 1000;
    $("elapsed").textContent = secs(e);
    if (cfg.timeout) {
      $("time").value = Math.min(e, cfg.timeout);
      $("over").hidden = e <= cfg.timeout;
    }
  }
  function show(job) {
    status = job.status;
    $("status").textContent = job.status; $("status").className = "chip " + job.status;
    const p = job.progress || {};
    $("phase").textContent = job.status === "running" ? (p.phase || "starting") :
      (job.status === "queued" || job.status === "interrupted" ? "waiting for a search process" : "");
    $("level").textContent = p.level ?? "\\u2013";
    $("candidates").textContent = p.candidates != null ? num(p.candidates) : "\\u2013";
    $("best").textContent = p.best_agreement != null ? (100 * p.best_agreement).toFixed(2) + "%" : "\\u2013";
    if (p.best) { $("best-program").textContent = p.best; $("best-program-row").hidden = false; }
    if (p.elapsed != null && (!base || p.elapsed !== base[2])) base = [p.elapsed, performance.now(), p.elapsed];
    if (job.cancel_requested) { $("cancel").disabled = true; $("cancel").textContent = "Cancelling\\u2026"; }
    tick();
  }
  async function poll() {
    try {
      const r = await fetch("/jobs/" + cfg.id, {headers: {Accept: "application/json"}});
      if (r.status === 401 || r.status === 403) { say("Signed out: reload the page to sign in again.", true); return; }
      if (r.ok) {
        const job = await r.json();
        if (cfg.ended_states.includes(job.status)) { location.reload(); return; }
        show(job);
      }
    } catch (e) { /* the server may be restarting: keep polling */ }
    setTimeout(poll, 1000);
  }
  const refused = (status, what) => status === 401
    ? "Not allowed from this browser: the server needs its token to " + what + ", and this " +
      "browser's sign-in does not count for that (it is good for reading pages)."
    : "Refused by the server: it takes changes only from its own pages and clients.";
  function say(text, bad) { const m = $("cancel-message"); m.textContent = text; m.className = "message" + (bad ? " bad" : ""); }
  $("cancel").addEventListener("click", async () => {
    $("cancel").disabled = true;
    let r;
    try { r = await fetch("/jobs/" + cfg.id + "/cancel", {method: "POST", headers: {Accept: "application/json"}}); }
    catch (e) { say("Could not reach the server: " + e.message, true); $("cancel").disabled = false; return; }
    const body = await r.json().catch(() => ({}));
    const detail = typeof body.detail === "string" ? " (server: " + body.detail + ")" : "";
    if (r.status === 202) { say("Cancel requested: the search stops within seconds; its best program so far is kept."); }
    else if (r.status === 401 || r.status === 403) { say(refused(r.status, "cancel a job") +
      " Cancel from a terminal with NETSYNTH_TOKEN set: netsynth cancel " + cfg.id + detail, true); } else if (r.status === 409) { say("The job has already ended" + detail + ".", true); }
    else { say("The server answered " + r.status + detail + ".", true); $("cancel").disabled = false; }
  });
  setInterval(tick, 250);
  poll();
})();
"""

LIST_SCRIPT = """
(() => {
  const cfg = JSON.parse(document.getElementById("page-data").textContent);
  const form = document.getElementById("submit"), msg = document.getElementById("submit-message");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    for (const e of form.querySelectorAll(".field-error")) e.textContent = "";
    msg.textContent = "Sending\\u2026"; msg.className = "message";
    const data = new FormData(form);
    for (const [k, v] of [...data.entries()])
      if (v === "" || (v instanceof File && !v.name && !v.size)) data.delete(k);
    let r;
    try { r = await fetch("/jobs", {method: "POST", body: data, headers: {Accept: "application/json"}}); }
    catch (e) { msg.textContent = "Could not reach the server: " + e.message; msg.className = "message bad"; return; }
    const body = await r.json().catch(() => ({}));
    if (r.ok && body.id) { location.assign("/ui/jobs/" + encodeURIComponent(body.id)); return; }
    msg.className = "message bad";
    if (r.status === 401 || r.status === 403) {
      msg.textContent = (r.status === 401
        ? "Not allowed from this browser: the server needs its token to submit a job, and this " +
          "browser's sign-in does not count for that (it is good for reading pages)."
        : "Refused by the server: it takes changes only from its own pages and clients.") +
        " Submit from a terminal with NETSYNTH_TOKEN set: netsynth submit SPEC --model MODEL" +
        (typeof body.detail === "string" ? " (server: " + body.detail + ")" : "");
      return;
    }
    const details = Array.isArray(body.detail) ? body.detail : [{loc: [], msg: String(body.detail ?? r.statusText)}];
    const general = [];
    for (const d of details) {
      const name = (d.loc || []).filter((x) => typeof x === "string" && x !== "body").pop();
      const slot = name && form.querySelector('.field-error[data-for="' + CSS.escape(name) + '"]');
      if (slot) slot.textContent = d.msg; else general.push(d.msg);
    }
    msg.textContent = "Not submitted (" + r.status + ")" + (general.length ? ": " + general.join("; ") : ": see the fields above.");
  });
  const live = () => [...document.querySelectorAll("#jobs tr[data-id]")].filter((tr) => !cfg.ended_states.includes(tr.dataset.status));
  async function refresh() {
    if (!live().length) return;
    try {
      const r = await fetch("/jobs?limit=" + cfg.limit + "&offset=" + cfg.offset, {headers: {Accept: "application/json"}});
      if (!r.ok) return;
      const now = new Map((await r.json()).jobs.map((j) => [j.id, j.status]));
      const rows = [...document.querySelectorAll("#jobs tr[data-id]")];
      if (rows.some((tr) => now.get(tr.dataset.id) !== tr.dataset.status) || now.size !== rows.length) {
        const page = await fetch(location.href, {headers: {Accept: "text/html"}});
        const fresh = new DOMParser().parseFromString(await page.text(), "text/html").getElementById("jobs");
        if (fresh) document.getElementById("jobs").replaceWith(fresh);
      }
    } catch (e) { /* the server may be restarting: try again later */ }
    setTimeout(refresh, 2000);
  }
  setTimeout(refresh, 2000);
})();
"""


def wants_html(request: Request) -> bool:
    """Whether the client prefers HTML to JSON (a browser, not httpx or curl's */*)."""
    accept = request.headers.get("accept", "").lower()
    if "text/html" not in accept:
        return False
    json_at = accept.find("application/json")
    return json_at < 0 or accept.find("text/html") < json_at


def page(title: str, body: str, *, script: str = "", data: dict[str, Any] | None = None) -> str:
    """A whole page: the site's header, `body` in <main>, and optionally a script with its data."""
    tail = ""
    if script:
        blob = json.dumps(data or {}).replace("<", "\\u003c")     # no "</script>" in the data
        tail = (f'<script type="application/json" id="page-data">{blob}</script>'
                f"<script>{script}</script>")
    return (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
            f"content=\"width=device-width, initial-scale=1\"><link rel=\"icon\" href=\"{ICON}\">"
            f"<title>{escape(title)}</title>"
            f"<style>{STYLE}</style></head><body><header class=\"top\"><a class=\"brand\" "
            f"href=\"/ui/jobs\">netsynth</a><a href=\"/ui/jobs\">Jobs</a><a href=\"/docs\">API"
            f"</a></header><main>{body}</main>{tail}</body></html>")


def login_page(*, wanted: bool, wrong: bool = False) -> str:
    if not wanted:
        return page("netsynth", "<h1>netsynth</h1><p>This service has no token: "
                                "<a href=\"/ui/jobs\">see the jobs</a>.</p>")
    note = "<p class=\"message bad\">That is not the service's token.</p>" if wrong else ""
    return page("netsynth: sign in", f"<h1>Sign in</h1>{note}<form method=\"post\" "
                "action=\"/ui/login\"><label>Token <input type=\"password\" name=\"token\" "
                "autocomplete=\"current-password\" required></label> <button>Sign in</button>"
                "</form><p>The token is the server's NETSYNTH_TOKEN. The browser keeps it in a "
                "cookie for reading pages; submitting and cancelling jobs still need the "
                "<code>Authorization</code> header.</p>")


# ---- one job ------------------------------------------------------------------------------------

def job_page(job: JobRecord, out: dict[str, Any], *, picture: dict[str, str] | None) -> str:
    """The page of one job; `out` is its JSON form, `picture` its report's figures by kind."""
    report = job.report or {}
    name = str(job.spec.get("name") or "job")
    chips = _chip(job.status, job.status, "status") + (
        " " + _chip(report["status"], report["status"]) if report.get("status") else "")
    parts = [f"<h1>{escape(name)} {chips}</h1><p class=\"muted\">job <code>{escape(job.id)}</code>"
             f" &middot; submitted {escape(_when(job.created))}</p>"]
    if not job.ended:
        parts.append(_live(job))
    if report and job.compare:
        from netsynth.compare_render import html as compare_html

        parts.append(compare_html(report))
    elif report:
        parts.append(render.html(report, figures=picture or {}, ids=True))
        links = [f'<a href="/jobs/{escape(job.id)}/result">report JSON</a>']
        if report.get("python"):
            links.insert(0, f'<a href="/jobs/{escape(job.id)}/program.py">program.py</a>')
        parts.append(f"<p>Download: {' &middot; '.join(links)}</p>")
    elif job.ended:
        parts.append("<p>This job ended without a report" + (
            f": {escape(job.error)}" if job.error else ".") + "</p>")
    parts.append(f"<h2>Job details</h2>{_facts(job)}")
    data = {"id": job.id, "ended": job.ended, "status": job.status, "ended_states": list(ENDED),
            "timeout": job.options.get("timeout")}
    return page(f"netsynth: {name} ({job.status})", "".join(parts), script=JOB_SCRIPT, data=data)


def _live(job: JobRecord) -> str:
    p = job.progress or {}
    timeout = job.options.get("timeout")
    elapsed = float(p.get("elapsed") or 0.0)
    budget = (f' of <span id="budget">{escape(_duration(timeout))}</span> <progress id="time" '
              f'max="{timeout:g}" value="{min(elapsed, timeout):.1f}"></progress> <span '
              f'id="over" class="muted"{"" if elapsed > timeout else " hidden"}>limit reached: '
              "stopping</span>" if timeout else ' <span class="muted">(no time limit)</span>')
    best = p.get("best_agreement")
    waiting = job.status in ("queued", "interrupted")
    phase = "waiting for a search process" if waiting else str(p.get("phase") or "starting")
    rows = [("Phase", f'<span id="phase">{escape(phase)}</span>'),
            ("Size reached", f'<span id="level">{escape(str(p.get("level", "–")))}</span>'),
            ("Candidates", f'<span id="candidates">{p["candidates"]:,}</span>'
             if p.get("candidates") is not None else '<span id="candidates">–</span>'),
            ("Best agreement", f'<span id="best">{"–" if best is None else f"{100 * best:.2f}%"}</span>'),
            ("Search time", f'<span id="elapsed">{escape(_duration(elapsed))}</span>{budget}')]
    best_row = (f'<div class="row" id="best-program-row"{"" if p.get("best") else " hidden"}>'
                f'<dt>Best program so far</dt><dd><code id="best-program">'
                f'{escape(str(p.get("best") or ""))}</code></dd></div>')  # shown once reported
    return ('<section class="live" id="live" aria-live="polite"><h2>'
            + ("Waiting" if waiting else "Running") + "</h2>" + _dl(rows, best_row)
            + '<button type="button" class="danger" id="cancel">Cancel job</button>'
            '<span id="cancel-message" class="message" role="status"></span></section>')


def _facts(job: JobRecord) -> str:
    report = job.report or {}
    rows = [("Status", escape(job.status)),
            ("Result", escape(str(report.get("status") or job.result_status or "–"))),
            ("Submitted", escape(_when(job.created))), ("Started", escape(_when(job.started))),
            ("Finished", escape(_when(job.finished))),
            ("Wall time", escape(_duration(_seconds(job))) + ' <span class="muted">(start-up, '
             "search and verification)</span>" if job.ended and job.started else "–"),
            ("Attempts", str(job.attempts)), ("Options", escape(_options(job.options)))]
    if job.stop_reason:
        rows.append(("Stopped", escape(job.stop_reason)))
    if job.error:
        rows.append(("Error", f'<span class="message bad">{escape(job.error)}</span>'))
    return _dl(rows)


def _dl(rows: list[tuple[str, str]], more: str = "") -> str:
    return ('<dl class="facts">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows) + more
            + "</dl>")


def _chip(text: str, kind: str, ident: str | None = None) -> str:
    slug = escape(kind.replace(" ", "-"))
    return (f'<span class="chip {slug}"' + (f' id="{ident}"' if ident else "")
            + f">{escape(text)}</span>")


def _options(options: dict[str, Any]) -> str:
    words = {"timeout": lambda v: f"time limit {_duration(v)}",
             "max_size": lambda v: f"sizes up to {v}",
             "min_agreement": lambda v: f"at least {100 * v:g}% agreement",
             "workers": lambda v: f"{v} worker{'s' if v != 1 else ''}"}
    return ", ".join(words[k](v) if k in words and v is not None else f"{k} {v}"
                     for k, v in options.items()) or "defaults"


# ---- the job list -------------------------------------------------------------------------------

FORM = """<h2>New job</h2>
<form class="submit" id="submit" method="post" action="/jobs" enctype="multipart/form-data" novalidate>
<label>Spec (JSON or TOML)<input type="file" name="spec" accept=".json,.toml" required>
<span class="field-error" data-for="spec"></span></label>
<label>Model (ONNX)<input type="file" name="model" accept=".onnx" required>
<span class="field-error" data-for="model"></span></label>
<label>Time limit (s)<input type="number" name="timeout" min="1" step="any" placeholder="server default">
<span class="field-error" data-for="timeout"></span></label>
<label>Largest program size<input type="number" name="max_size" min="1" max="64" placeholder="12">
<span class="field-error" data-for="max_size"></span></label>
<label>Minimum agreement (0 to 1]<input type="number" name="min_agreement" step="any" placeholder="1.0">
<span class="field-error" data-for="min_agreement"></span></label>
<div class="actions"><button class="primary" type="submit">Submit</button>
<span id="submit-message" class="message" role="status"></span></div></form>"""


def job_list_page(jobs: list[JobRecord], *, total: int, limit: int, offset: int) -> str:
    rows = "".join(_row(j) for j in jobs) or (
        '<tr><td colspan="6" class="muted">No jobs yet: submit one below, or with '
        "<code>netsynth submit SPEC</code>.</td></tr>")
    nav = []
    if offset > 0:
        nav.append(f"<a href=\"/ui/jobs?limit={limit}&amp;offset={max(0, offset - limit)}\">newer</a>")
    if offset + limit < total:
        nav.append(f"<a href=\"/ui/jobs?limit={limit}&amp;offset={offset + limit}\">older</a>")
    shown = f"{offset + 1}&ndash;{offset + len(jobs)} of {total}" if jobs else f"{total} in all"
    body = (f"{FORM}<h2>Jobs <small class=\"muted\">{shown}</small></h2><table class=\"jobs\" "
            "id=\"jobs\"><thead><tr><th>job</th><th>status</th><th class=\"num\">fidelity</th>"
            "<th class=\"num\">wall time</th><th>program</th><th>submitted (UTC)</th></tr></thead>"
            f"<tbody>{rows}</tbody></table><p>{' &middot; '.join(nav)}</p>")
    data = {"limit": limit, "offset": offset, "ended_states": list(ENDED)}
    return page("netsynth: jobs", body, script=LIST_SCRIPT, data=data)


def _row(j: JobRecord) -> str:
    report = j.report or {}
    result = report.get("status") or j.result_status
    f = report.get("fidelity") or {}
    best = (j.progress or {}).get("best_agreement")
    if f.get("total"):
        fidelity = (f'{100 * f["agreement"]:.2f}%<br><span class="muted">{f["agree"]:,}/'
                    f'{f["total"]:,}</span>')
    elif not j.ended and best is not None:
        fidelity = f'<span class="muted">best so far</span><br>{100 * best:.2f}%'
    else:
        fidelity = "–"
    duration = _duration(_seconds(j)) if j.started else ("waiting" if not j.ended else "–")
    program = str(report.get("program") or (j.progress or {}).get("best") or "")
    if j.compare:
        groups = report.get("groups") or []
        program = (" | ".join(str(g.get("program")) for g in groups) if groups
                   else f"{len(j.members or [])} networks to compare")
    link = f"/ui/jobs/{escape(j.id)}"
    return (f'<tr data-id="{escape(j.id)}" data-status="{escape(j.status)}"><td><a href="{link}">'
            f"{escape(str(j.spec.get('name') or 'job'))}</a><br><code class=\"muted\">"
            f"{escape(j.id[:12])}</code></td><td>{_chip(j.status, j.status)}"
            + (f" {_chip(result, result)}" if result else "")
            + f'</td><td class="num">{fidelity}</td><td class="num">{escape(duration)}</td>'
            f'<td><code title="{escape(program)}">{escape(program)}</code></td>'
            f"<td>{escape(_when(j.created, zone=False))}</td></tr>")


# ---- times --------------------------------------------------------------------------------------

def _seconds(job: JobRecord) -> float:
    """Seconds from start to finish, or to now while the job runs (stored times are naive UTC)."""
    end = job.finished or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    return max(0.0, (end - job.started).total_seconds()) if job.started else 0.0


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


def _when(t: dt.datetime | None, *, zone: bool = True) -> str:
    if t is None:
        return "–"
    return t.strftime("%Y-%m-%d %H:%M:%S") + (" UTC" if zone else "")
