"""The results pages and their pictures (issue 21, item 7).

Unit tests check `netsynth.pictures` against truths computed here: the colour of a heat map's cell
is viridis at its output's place in the output range, the chart's marks sit on the disagreements
built into the data, the Pareto plot's points are the front's.

Integration tests start a real server (`test_service_kit.Server`) and run real jobs: the bundled
abs_diff network (two inputs; the truth is |x - y|) and a one-input ONNX network built here with
`onnx.helper`, computing 2n + 1 except at three inputs where it adds 4. Headless Chromium loads
the pages, driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`, no extra
package): it reads the rendered DOM, clicks the cancel button, fills the submit form, collects
console errors and failed loads, and takes screenshots that are decoded and checked.
"""

from __future__ import annotations

import base64
import fcntl
import io
import json
import os
import re
import select
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from test_service_kit import (ABS, EXAMPLES, FAST, NOISY, SLOW, Server, ended, job, submit,
                              wait_for)

from netsynth import pictures
from netsynth.comparison import Comparison

BUMPS = (10, 33, 50)           # where the one-input network adds 4 to 2n + 1
PENDULUM = EXAMPLES / "real_pendulum"


# ---- unit: the pictures ---------------------------------------------------------------------------

def two_input_comparison() -> Comparison:
    x, y = np.arange(0, 32), np.arange(0, 20)
    network = np.abs(x[:, None] - y[None, :])
    program = network.copy()
    program[3, 17] = 0               # two misses, one of them outside the output range
    program[30, 2] = 40
    return Comparison(("x", "y"), (x, y), {}, network, program, network != program, 0, 31)


def png_pixels(data: bytes) -> np.ndarray:
    import matplotlib.image

    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return matplotlib.image.imread(io.BytesIO(data), format="png")


def colour_at(fig: Any, image: np.ndarray, ax: Any, x: float, y: float) -> np.ndarray:
    """The RGB of `image` (drawn at the figure's dpi) at data point (x, y) of `ax`."""
    px, py = ax.transData.transform((x, y))
    return image[int(round(image.shape[0] - py)), int(round(px)), :3]


def test_heat_maps_colour_each_cell_by_its_output_with_one_colour_bar() -> None:
    import matplotlib

    c = two_input_comparison()
    fig = pictures.comparison(c)
    image = png_pixels(pictures.png(fig, scale=1))
    assert image.shape[:2] == (round(fig.get_figheight() * fig.dpi), round(fig.get_figwidth() * fig.dpi))
    by_title = {ax.get_title(): ax for ax in fig.axes}
    viridis = matplotlib.colormaps["viridis"]
    rng = np.random.default_rng(0)
    for title, values in (("network", c.network), ("program", c.program)):
        ax = by_title[title]
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("x", "y")
        for i, j in [*rng.integers(0, (32, 20), (20, 2)), (3, 17), (30, 2)]:
            want = viridis(min(1.0, (values[i, j] - 0) / 31))[:3]
            got = colour_at(fig, image, ax, c.axes[0][i], c.axes[1][j])
            assert np.abs(got - want).max() < 3 / 255, (title, i, j, got, want)
        assert ax.get_xlim() == (-0.5, 31.5) and ax.get_ylim() == (-0.5, 19.5)   # cells on values
        shown = [t for t in ax.get_xticks() if -0.5 <= t <= 31.5]
        assert len(shown) >= 3 and all(t == int(t) for t in shown)
    bars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert len(bars) == 1 and bars[0].get_ylabel() == "output"
    assert sorted(bars[0].get_ylim()) == [0, 31]
    wrong = by_title["disagreements: 2 of 640"]
    for (i, j), want in (((3, 17), "#d62728"), ((30, 2), "#d62728"), ((0, 0), "#e6e6e6"),
                         ((20, 5), "#e6e6e6")):
        got = colour_at(fig, image, wrong, c.axes[0][i], c.axes[1][j])
        assert np.abs(got - matplotlib.colors.to_rgb(want)).max() < 3 / 255
    assert [t.get_text() for t in wrong.get_legend().get_texts()] == ["agree (638)", "disagree (2)"]


def test_the_one_input_chart_marks_each_disagreement() -> None:
    n = np.arange(0, 64)
    network = 2 * n + 1 + 4 * np.isin(n, BUMPS)
    program = 2 * n + 1
    c = Comparison(("n",), (n,), {"k": 7}, network, program, network != program, 0, 140)
    fig = pictures.comparison(c)
    (ax,) = fig.axes
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert lines["network"].get_ydata().tolist() == network.tolist()
    assert lines["program"].get_ydata().tolist() == program.tolist()
    (marks,) = [s for s in ax.collections if s.get_label().startswith("disagreements")]
    assert marks.get_offsets().tolist() == [[b, 2 * b + 5] for b in BUMPS]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "network", "program", "disagreements (3 of 64)"]
    assert ax.get_xlabel() == "n" and "k = 7" in ax.get_title()


def test_the_pareto_plot_is_the_front_with_the_chosen_program_starred() -> None:
    front = [{"program": "1", "size": 1, "agreement": 0.0625},
             {"program": "x + y", "size": 3, "agreement": 0.52734375},
             {"program": "(x + y) % 16", "size": 5, "agreement": 0.98046875}]
    fig = pictures.pareto(front, "(x + y) % 16")
    (ax,) = fig.axes
    points, star = ax.collections
    assert np.allclose(points.get_offsets(), [[1, 6.25], [3, 52.734375], [5, 98.046875]])
    assert np.allclose(star.get_offsets(), [[5, 98.046875]])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "best program of its size", "chosen: (x + y) % 16"]
    assert "size" in ax.get_xlabel() and "agreement" in ax.get_ylabel()


def test_a_reports_pictures_are_inline_pngs_with_alt_text_and_escaped_text() -> None:
    c = two_input_comparison()
    hostile = "x + 1 <script>alert(1)</script>"
    report = {"comparison": c.to_dict(), "program": hostile,
              "pareto": [{"program": "1", "size": 1, "agreement": 0.5},
                         {"program": hostile, "size": 9, "agreement": 0.99}]}
    drawn = {p.kind: p for p in pictures.pictures(report)}
    assert set(drawn) == {"comparison", "pareto"}
    for p in drawn.values():
        image = png_pixels(p.png)
        assert image.shape[:2] == (p.height * pictures.SCALE, p.width * pictures.SCALE)
        html = p.html()
        assert f'src="data:image/png;base64,{base64.b64encode(p.png).decode()}"' in html
        assert "<script" not in html and "http" not in html
    assert drawn["comparison"].colorbar == "output 0 to 31"
    assert drawn["comparison"].legend == ("agree (638)", "disagree (2)")
    assert "disagreements: 2 of 640" in drawn["comparison"].alt
    assert "&lt;script&gt;" in drawn["pareto"].html()


def hostile_pages() -> list[str]:
    """The job page (ended and running) and the job list of a job whose every text is hostile."""
    import datetime as dt

    from netsynth.service import ui
    from netsynth.service.store import JobRecord

    evil = '<img src=x onerror="alert(1)"></script><script>alert(2)</script>'
    report = {"status": "approximate", "program": f"x + 1 {evil}", "python": f"# {evil}",
              "stop_reason": "time budget", "notes": [evil],
              "fidelity": {"agree": 3, "total": 4, "exhaustive": True, "agreement": 0.75,
                           "disagreements": [{"inputs": {"x": evil}, "network": evil,
                                              "program": 1, "overflow": False}]},
              "pareto": [{"program": evil, "size": 3, "agreement": 0.75}],
              "search": {"seconds": 1.0, "candidates": 5, "distinct": 5, "rounds": 1,
                         "sample_size": 4, "workers": 1, "stop_detail": evil},
              "verification": None, "spec": {"name": evil, "inputs": [{"name": "x"}]}}
    t = dt.datetime(2026, 1, 1)
    done = JobRecord("a" * 32, "succeeded", {"name": evil}, "sha", {"timeout": 30.0, evil: evil},
                     t, t, t, {"best_agreement": 0.75}, report, evil, evil, 1)
    running = JobRecord("b" * 32, "running", {"name": evil}, "sha", {"timeout": 30.0}, t, t, None,
                        {"best_agreement": 0.5, "best": evil, "phase": evil}, None, None, None, 1)
    return [ui.job_page(done, {}, picture={}), ui.job_page(running, {}, picture=None),
            ui.job_list_page([done, running], total=2, limit=50, offset=0)]


def test_every_text_on_the_pages_is_escaped() -> None:
    for html in hostile_pages():
        assert "<img src=x" not in html and "alert(2)</script>" not in html
        assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html
        # Two script elements per page: the JSON data and the code, neither with a handler
        # attribute or eval; the data cannot close its element.
        assert html.count("<script") == 2 and "onerror=\"" not in html and "eval(" not in html
        data = html.split('<script type="application/json" id="page-data">')[1].split("</script>")[0]
        assert json.loads(data)


def test_import_netsynth_leaves_matplotlib_unloaded() -> None:
    code = ("import sys, netsynth, netsynth.render, netsynth.pictures, netsynth.report; "
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---- a browser on a pipe --------------------------------------------------------------------------

class Browser:
    """Headless Chromium driven over the DevTools protocol on fds 3 and 4 (JSON, NUL-ended)."""

    def __init__(self, profile: Path) -> None:
        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        if not chromium:
            pytest.skip("chromium is not installed (apt-get install -y chromium)")
        to_chrome, self._out = os.pipe()
        self._in, from_chrome = os.pipe()

        def pipes() -> None:       # in the child: its ends as fds 3 (commands) and 4 (answers)
            a = fcntl.fcntl(to_chrome, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(from_chrome, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)
            os.close(a)
            os.close(b)

        self.proc = subprocess.Popen(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--hide-scrollbars", "--remote-debugging-pipe", f"--user-data-dir={profile}",
             "about:blank"], close_fds=False, preexec_fn=pipes,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome)
        os.close(from_chrome)
        self._buf, self._next, self.errors, self.events = b"", 0, [], []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable", session=True)
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=1280, height=900,
                  deviceScaleFactor=1, mobile=False)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(20)
        os.close(self._out)
        os.close(self._in)

    def call(self, method: str, *, session: bool = False, timeout: float = 60, **params: Any) -> Any:
        self._next += 1
        message = {"id": self._next, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        while True:
            m = self._read(timeout)
            if m.get("id") == self._next:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m["result"]

    def _read(self, timeout: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            if not select.select([self._in], [], [], timeout)[0]:
                raise TimeoutError("chromium did not answer")
            chunk = os.read(self._in, 1 << 20)
            if not chunk:
                raise EOFError("chromium closed its pipe")
            self._buf += chunk
        raw, _, self._buf = self._buf.partition(b"\0")
        message = json.loads(raw)
        self._note(message)
        if "method" in message:
            self.events.append(message)
        return message

    def event(self, method: str, *, timeout: float = 30) -> dict[str, Any]:
        """The first event `method` not yet taken (waiting for it if need be)."""
        while True:
            for m in self.events:
                if m["method"] == method:
                    self.events.remove(m)
                    return m["params"]
            self._read(timeout)

    def _note(self, m: dict[str, Any]) -> None:
        """Keep what a page's visitor would call an error: uncaught exceptions, console.error,
        and failed loads (a blocked or missing asset) from the browser's log."""
        method, p = m.get("method"), m.get("params", {})
        if method == "Runtime.exceptionThrown":
            self.errors.append(p["exceptionDetails"].get("exception", {}).get("description")
                               or p["exceptionDetails"]["text"])
        elif method == "Runtime.consoleAPICalled" and p["type"] in ("error", "assert"):
            self.errors.append(" ".join(str(a.get("value", a.get("description"))) for a in p["args"]))
        elif method == "Log.entryAdded" and p["entry"]["level"] == "error":
            self.errors.append(f"{p['entry']['source']}: {p['entry']['text']} {p['entry'].get('url', '')}")

    def open(self, url: str) -> None:
        self.events.clear()
        self.call("Page.navigate", session=True, url=url)
        wait_for(f"{url} to load", lambda: self.eval("document.readyState") == "complete"
                 and self.eval("location.href") == url, timeout=30)

    def eval(self, expression: str) -> Any:
        r = self.call("Runtime.evaluate", session=True, expression=expression, returnByValue=True,
                      awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expression}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def files(self, selector: str, *paths: Path) -> None:
        root = self.call("DOM.getDocument", session=True)["root"]["nodeId"]
        node = self.call("DOM.querySelector", session=True, nodeId=root, selector=selector)["nodeId"]
        self.call("DOM.setFileInputFiles", session=True, nodeId=node, files=[str(p) for p in paths])

    def screenshot(self, width: int) -> tuple[bytes, int]:
        """A PNG of the whole page at `width` CSS pixels, and the page's height."""
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=width, height=900,
                  deviceScaleFactor=1, mobile=False)
        height = int(self.eval("document.documentElement.scrollHeight"))
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=width, height=height,
                  deviceScaleFactor=1, mobile=False)
        shot = self.call("Page.captureScreenshot", session=True, format="png")
        return base64.b64decode(shot["data"]), height


# ---- integration: the pages of real jobs -----------------------------------------------------------

def line_model(path: Path) -> tuple[Path, Path]:
    """An ONNX network of one raw int input n in [0, 63] computing 2n + 1, plus 4 at BUMPS."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    consts = {"two": np.array([[2.0]], np.float32), "one": np.array([1.0], np.float32),
              "bumps": np.array(BUMPS, np.float32), "four": np.array(4.0, np.float32),
              "axis": np.array([1], np.int64)}
    nodes = [helper.make_node("MatMul", ["n", "two"], ["twice"]),
             helper.make_node("Add", ["twice", "one"], ["line"]),
             helper.make_node("Equal", ["n", "bumps"], ["hit"]),              # (batch, 3)
             helper.make_node("Cast", ["hit"], ["hits"], to=TensorProto.FLOAT),
             helper.make_node("ReduceSum", ["hits", "axis"], ["bumped"], keepdims=1),
             helper.make_node("Mul", ["bumped", "four"], ["bump"]),
             helper.make_node("Add", ["line", "bump"], ["out"])]
    graph = helper.make_graph(
        nodes, "line", [helper.make_tensor_value_info("n", TensorProto.FLOAT, [None, 1])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [None, 1])],
        [numpy_helper.from_array(v, name=k) for k, v in consts.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    (path / "model.onnx").write_bytes(model.SerializeToString())
    (path / "spec.json").write_text(json.dumps({
        "name": "line_with_bumps", "dsl": "int",
        "inputs": [{"name": "n", "type": "int", "range": [0, 63], "encoding": "raw"}],
        "output": {"type": "int", "range": [0, 140], "decoding": "round"}}))
    return path / "spec.json", path / "model.onnx"


def pendulum_with_units() -> bytes:
    """The bundled pendulum's spec with SI units: L in metres, g in m/s^2, the period in seconds."""
    spec = json.loads((PENDULUM / "spec.json").read_text())
    units = {"L": {"m": 1}, "g": {"m": 1, "s": -2}}
    for item in spec["inputs"]:
        item["units"] = units[item["name"]]
    spec["output"]["units"] = {"s": 1}
    return json.dumps(spec).encode()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    """A server with a finished two-input job, a finished one-input job, a finished real job (the
    pendulum, with units), and a browser."""
    root = tmp_path_factory.mktemp("results_page")
    server = Server(root / "data", "--max-jobs", "3").start()
    line = root / "line"
    line.mkdir()
    spec, _model = line_model(line)
    ids = {"abs": submit(server.url, ABS, FAST).json()["id"],
           "line": submit(server.url, line, {"min_agreement": "0.9", "max_size": "5",
                                             "timeout": "30"}).json()["id"],
           "pendulum": submit(server.url, PENDULUM, {"timeout": "60"},
                              spec=pendulum_with_units()).json()["id"]}
    browser = Browser(root / "profile")
    try:
        for key in ids:
            done = wait_for(f"the {key} job to end", lambda: ended(server.url, ids[key]), timeout=90)
            assert done["status"] == "succeeded", done
        yield server, browser, ids, {"spec": spec, "model": line / "model.onnx"}
    finally:
        browser.close()
        server.stop()


FIGURES = """[...document.querySelectorAll("figure.netsynth-picture")].map((f) => {
  const img = f.querySelector("img");
  return {kind: f.dataset.picture, legend: f.dataset.legend || "", colorbar: f.dataset.colorbar || "",
          alt: img.alt, loaded: img.complete && img.naturalWidth === 2 * Number(img.getAttribute("width")),
          caption: f.querySelector("figcaption").textContent};
})"""


def check_screenshot(browser: Browser, tmp_path: Path, name: str) -> np.ndarray:
    """The page as a PNG 1280 CSS pixels wide: its size is the page's and it is not blank."""
    data, height = browser.screenshot(1280)
    (tmp_path / name).write_bytes(data)
    image = png_pixels(data)
    assert image.shape[:2] == (height, 1280)
    assert image[..., :3].std() > 0.1                                  # not one colour
    top = image[5, 5, :3]                                              # the dark header bar
    assert np.abs(top - np.array([0x1d, 0x23, 0x30]) / 255).max() < 3 / 255
    return image


@pytest.mark.integration
def test_a_finished_two_input_job_page(served, tmp_path: Path) -> None:
    server, browser, ids, _ = served
    report = httpx.get(f"{server.url}/jobs/{ids['abs']}/result").json()
    browser.errors.clear()
    browser.open(f"{server.url}/ui/jobs/{ids['abs']}")
    assert browser.eval('document.querySelector("pre#program").textContent') == report["program"]
    assert browser.eval('document.querySelector("pre#python").textContent') == report["python"]
    assert browser.eval('document.querySelector(".codebox button.copy").textContent') == "Copy"
    text = browser.eval("document.body.innerText")
    assert "abs_diff: solved" in text
    assert "The program agrees with the network on all 1,024 points of the domain." in text
    assert re.search(r"Reference: equivalent to x - y if x > y else y - x", text)
    assert re.search(r"Speed: network [\d.]+ µs per query, program [\d.]+ µs", text)
    figures = {f["kind"]: f for f in browser.eval(FIGURES)}
    comparison, pareto = figures["comparison"], figures["pareto"]
    assert comparison["loaded"] and pareto["loaded"]
    assert comparison["colorbar"] == "output 0 to 31"
    assert comparison["legend"] == "agree (1,024); disagree (0)"
    assert "disagreements: 0 of 1024" in comparison["alt"]
    assert "chosen: " + report["program"] in pareto["legend"]
    rows = browser.eval('[...document.querySelectorAll(".pareto table tr")].slice(1)'
                        '.map((r) => [...r.cells].map((c) => c.textContent))')
    assert rows == [[str(p["size"]), f"{100 * p['agreement']:.2f}%", p["program"]]
                    for p in report["pareto"]]
    assert browser.eval('document.getElementById("cancel")') is None    # it has ended
    image = check_screenshot(browser, tmp_path, "finished.png")
    box = browser.eval('(() => { const r = document.querySelector("figure[data-picture=comparison] img")'
                       '.getBoundingClientRect(); return [r.top + scrollY, r.left, r.bottom + scrollY, r.right]; })()')
    top, left, bottom, right = (int(v) for v in box)
    assert image[top:bottom, left:right, :3].std() > 0.1             # the heat maps are drawn
    assert browser.errors == []


@pytest.mark.integration
def test_a_finished_one_input_job_page(served, tmp_path: Path) -> None:
    server, browser, ids, _ = served
    browser.errors.clear()
    browser.open(f"{server.url}/ui/jobs/{ids['line']}")
    figures = {f["kind"]: f for f in browser.eval(FIGURES)}
    chart = figures["comparison"]
    assert chart["loaded"] and chart["alt"].startswith("Line chart")
    assert chart["legend"] == "network; program; disagreements (3 of 64)"
    assert chart["colorbar"] == ""
    rows = browser.eval('[...document.querySelectorAll("table.disagreements tr")].slice(1)'
                        '.map((r) => [...r.cells].map((c) => Number(c.textContent)))')
    assert rows == [[b, 2 * b + 5, 2 * b + 1] for b in BUMPS]        # n, network, program
    assert "on 61 of the 64 points of the domain (95.31%)" in browser.eval("document.body.innerText")
    check_screenshot(browser, tmp_path, "one_input.png")
    assert browser.errors == []


@pytest.mark.integration
def test_a_real_job_page_shows_the_network_against_the_formula(served, tmp_path: Path) -> None:
    """The pendulum's page: the formula (the law, by sympy), the dimensional-analysis note, and
    the two real pictures, whose alt text says where the network leaves the law."""
    import sympy

    server, browser, ids, _ = served
    report = httpx.get(f"{server.url}/jobs/{ids['pendulum']}/result").json()
    assert report["status"] == "solved", report.get("notes")
    L, g = sympy.symbols("L g", positive=True)
    assert sympy.simplify(sympy.sympify(report["program"], locals={"L": L, "g": g})
                          - 2 * sympy.pi * sympy.sqrt(L / g)) == 0, report["program"]
    browser.errors.clear()
    browser.open(f"{server.url}/ui/jobs/{ids['pendulum']}")
    text = browser.eval("document.body.innerText")
    assert "real_pendulum: solved" in text and "Network against formula" in text
    assert "dimensional analysis" in text
    # every point within the tolerance: the listed points are the largest errors, not differences
    listed = len(report["fidelity"]["disagreements"])
    assert report["fidelity"]["agree"] == report["fidelity"]["total"] and listed
    assert f"The largest errors ({listed} points, all within the tolerance)" in text
    assert "Where they differ" not in text
    figures = {f["kind"]: f for f in browser.eval(FIGURES)}
    slices, residuals = figures["slices"], figures["residuals"]
    assert slices["loaded"] and residuals["loaded"]
    assert slices["legend"] == "network; formula; training range"
    # L trained on [0.5, 2] and g on [5, 15]: swept one width further, kept positive
    assert "L from 0.25 to 3.5 (trained on 0.5 to 2); g from 2.5 to 25 (trained on 5 to 15)" in slices["alt"]
    inner = float(re.search(r"at most ([\d.e+-]+) times the tolerance", slices["alt"]).group(1))
    assert inner < 1                              # the network follows the law where it was trained
    assert re.search(r"(\d+) of 400 points lie within it", residuals["alt"])
    image = check_screenshot(browser, tmp_path, "real.png")
    box = browser.eval('(() => { const r = document.querySelector("figure[data-picture=slices] img")'
                       '.getBoundingClientRect(); return [r.top + scrollY, r.left, r.bottom + scrollY, r.right]; })()')
    top, left, bottom, right = (int(v) for v in box)
    assert image[top:bottom, left:right, :3].std() > 0.05              # the slices are drawn
    assert browser.errors == []


@pytest.mark.integration
def test_a_running_job_shows_progress_against_its_budget_and_cancels(served, tmp_path: Path) -> None:
    server, browser, _, _ = served
    job_id = submit(server.url, NOISY, SLOW).json()["id"]
    try:
        wait_for("the job to run", lambda: job(server.url, job_id)["progress"], timeout=60)
        browser.errors.clear()
        browser.open(f"{server.url}/ui/jobs/{job_id}")
        assert browser.eval('document.getElementById("status").textContent') == "running"
        assert browser.eval('document.getElementById("time").max') == float(SLOW["timeout"])
        assert browser.eval('document.getElementById("budget").textContent') == "2 min 00 s"
        assert re.fullmatch(r"\d+\.\d\d%", browser.eval('document.getElementById("best").textContent'))
        first = browser.eval('document.getElementById("time").value')
        wait_for("the elapsed time to move", lambda: browser.eval(
            'document.getElementById("time").value') > first + 0.5, timeout=20)
        check_screenshot(browser, tmp_path, "running.png")
        browser.eval('document.getElementById("cancel").click()')
        wait_for("the cancel to be acknowledged", lambda: "Cancel requested" in browser.eval(
            'document.getElementById("cancel-message").textContent'), timeout=10)
        assert wait_for("the job to end", lambda: ended(server.url, job_id), timeout=30)["status"] == "cancelled"
        wait_for("the page to show the end", lambda: browser.eval(
            'document.querySelector("h1 .chip")?.textContent') == "cancelled", timeout=20)
        assert browser.eval('document.getElementById("cancel")') is None
        assert browser.errors == []
    finally:
        httpx.post(f"{server.url}/jobs/{job_id}/cancel")


@pytest.mark.integration
def test_the_job_list_and_its_submit_form(served) -> None:
    server, browser, ids, line = served
    report = httpx.get(f"{server.url}/jobs/{ids['abs']}/result").json()
    browser.errors.clear()
    browser.open(f"{server.url}/ui/jobs")
    rows = browser.eval('Object.fromEntries([...document.querySelectorAll("#jobs tr[data-id]")].map('
                        '(r) => [r.dataset.id, [...r.cells].map((c) => c.innerText)]))')
    name, status, fidelity, duration, program, _ = rows[ids["abs"]]
    assert name.startswith("abs_diff") and status.split() == ["succeeded", "solved"]
    assert fidelity.split() == ["100.00%", "1,024/1,024"]
    assert re.fullmatch(r"\d+\.\d s|\d+ min \d\d s", duration) and program == report["program"]
    assert rows[ids["line"]][2].split() == ["95.31%", "61/64"]

    # A bad field: the server's 422 message appears beside that field.
    browser.files('input[name="spec"]', line["spec"])
    browser.files('input[name="model"]', line["model"])
    browser.eval('document.querySelector("input[name=max_size]").value = "0"')
    truth = httpx.post(server.url + "/jobs", files={
        "spec": ("spec.json", line["spec"].read_bytes()),
        "model": ("model.onnx", line["model"].read_bytes()), "max_size": (None, b"0")})
    assert truth.status_code == 422
    (expected,) = [d["msg"] for d in truth.json()["detail"] if d["loc"][-1] == "max_size"]
    browser.eval('document.querySelector("#submit button[type=submit]").click()')
    wait_for("the field error", lambda: browser.eval(
        'document.querySelector(".field-error[data-for=max_size]").textContent') == expected, timeout=20)
    assert "Not submitted (422)" in browser.eval('document.getElementById("submit-message").textContent')

    # Fixed, it goes through and the browser lands on the new job's page.
    before = httpx.get(server.url + "/jobs").json()["total"]
    browser.eval('document.querySelector("input[name=max_size]").value = "5"')
    browser.eval('document.querySelector("input[name=min_agreement]").value = "0.9"')
    browser.eval('document.querySelector("#submit button[type=submit]").click()')
    landed = wait_for("the new job's page", lambda: re.fullmatch(
        rf"{re.escape(server.url)}/ui/jobs/([0-9a-f]{{32}})", browser.eval("location.href")), timeout=30)
    new = job(server.url, landed.group(1))
    assert new["spec_name"] == "line_with_bumps" and new["options"]["max_size"] == 5
    assert httpx.get(server.url + "/jobs").json()["total"] == before + 1
    wait_for("the submitted job to end", lambda: ended(server.url, new["id"]), timeout=90)
    # The one error is the 422 asked for (Chromium logs a failed request by itself).
    assert [e for e in browser.errors if "status of 422" not in e] == []


def click_cancel_seen_from(browser: Browser, origin: str) -> str:
    """Click the page's cancel button, the request rewritten by the browser to come from
    `origin`; the page's message once it has the server's answer."""
    browser.call("Fetch.enable", session=True, patterns=[{"urlPattern": "*/cancel"}])
    browser.events.clear()
    browser.eval('document.getElementById("cancel").click()')
    request = browser.event("Fetch.requestPaused")
    headers = [{"name": k, "value": v} for k, v in request["request"]["headers"].items()
               if k.lower() != "origin"] + [{"name": "Origin", "value": origin}]
    browser.call("Fetch.continueRequest", session=True, requestId=request["requestId"],
                 headers=headers)
    browser.call("Fetch.disable", session=True)
    return wait_for("the page's message", lambda: browser.eval(
        'document.getElementById("cancel-message").textContent'), timeout=20)


@pytest.mark.integration
def test_with_a_token_the_page_says_what_the_server_allows(tmp_path: Path) -> None:
    """A browser signed in with the token holds a cookie. Whatever the server lets that cookie
    do, the page says it: a cancel the server refuses (401, or 403 for a request from another
    site) is explained with the command that works; one it accepts cancels the job."""
    token = "s3cret-for-the-page"
    server = Server(tmp_path / "data", env={"NETSYNTH_TOKEN": token}).start()
    browser = Browser(tmp_path / "profile")
    good = {"Authorization": f"Bearer {token}"}
    job_id = submit(server.url, NOISY, SLOW, headers=good).json()["id"]
    try:
        browser.open(f"{server.url}/ui/login")
        browser.eval(f'document.querySelector("input[name=token]").value = {json.dumps(token)}; '
                     'document.querySelector("form").submit()')
        wait_for("the sign-in", lambda: browser.eval("location.pathname") == "/ui/jobs", timeout=20)
        browser.open(f"{server.url}/ui/jobs/{job_id}")
        browser.errors.clear()
        message = click_cancel_seen_from(browser, "http://elsewhere.example")
        assert message.startswith("Refused by the server") and "cross-origin" in message
        assert f"netsynth cancel {job_id}" in message
        assert job(server.url, job_id, headers=good)["cancel_requested"] is False

        # The server's policy for a signed-in browser's own writes, asked without the page.
        cookie = {"netsynth_token": token}
        probe = httpx.post(f"{server.url}/jobs/{'0' * 32}/cancel", cookies=cookie,
                           headers={"Origin": server.url})
        assert probe.status_code in (401, 404)             # refused, or allowed (no such job)
        browser.open(f"{server.url}/ui/jobs/{job_id}")
        browser.eval('document.getElementById("cancel").click()')
        message = wait_for("the page's message", lambda: browser.eval(
            'document.getElementById("cancel-message").textContent'), timeout=20)
        if probe.status_code == 401:
            assert message.startswith("Not allowed from this browser: the server needs its token")
            assert f"netsynth cancel {job_id}" in message
            assert job(server.url, job_id, headers=good)["cancel_requested"] is False
        else:
            assert message.startswith("Cancel requested")
            done = wait_for("the job to end", lambda: ended_with(server.url, job_id, good), timeout=30)
            assert done["status"] == "cancelled"
        # The refusals asked for above are all the browser logged (it logs failed requests).
        assert all(re.search(r"status of 40[13]", e) for e in browser.errors), browser.errors
    finally:
        httpx.post(f"{server.url}/jobs/{job_id}/cancel", headers=good)
        browser.close()
        server.stop()


def ended_with(url: str, job_id: str, headers: dict[str, str]) -> dict[str, Any] | None:
    j = job(url, job_id, headers=headers)
    return j if j["status"] in ("succeeded", "failed", "cancelled") else None

