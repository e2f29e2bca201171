"""A family's own report sections (`Report.extra`) and counts (`search.figures`), for readers.

Every search family but the int one may add JSON-able sections to its report: a DFA as JSON, its
diagram as SVG, a regular expression, a table of formulas, a step-by-step trace, pictures as PNG.
They are shown by what they are, not by which family made them:

- a string that is an SVG document, or a section named `svg` / ending in `_svg`: a picture (an
  `<img>` of a data URL in HTML, so no script inside it can run; left out of the terminal text);
- a section named `png` / ending in `_png` (base64 PNG bytes), or a dict of such: pictures;
- a list of dicts with the same keys: a table (the first rows in a terminal);
- any other string: a line in a terminal, a `<pre>` block in HTML;
- anything else: its JSON, in HTML only (the report's JSON holds it in full).
"""

from __future__ import annotations

import base64
import json
from typing import Any

TEXT_ROWS = 8       # rows of a table shown in a terminal
TITLES = {"svg": "Diagram", "png": "Picture", "regex": "Regular expression", "latex": "LaTeX"}
TEXT_WIDTH = 100    # longest string section shown in a terminal


def figures_text(figures: dict[str, Any]) -> str | None:
    """The family's counts as one line: "states 4, membership queries 1,234"; a group of counts
    (a dict of them) in parentheses after its name: "register estimate (registers 1, rank 5)"."""
    def plain(v: Any) -> bool:
        return isinstance(v, (int, float, str)) and not isinstance(v, bool)

    items = [f"{_label(k)} {_number(v)}" for k, v in figures.items() if plain(v)]
    items += [f"{_label(k)} (" + ", ".join(f"{_label(a)} {_number(b)}" for a, b in v.items()
                                          if plain(b)) + ")"
              for k, v in figures.items() if isinstance(v, dict) and any(map(plain, v.values()))]
    return ", ".join(items) or None


def text(extra: dict[str, Any], *, shown: tuple[str | None, ...] = ()) -> list[str]:
    """Terminal lines for the sections (pictures and nested data left out, and a section the
    text shows already, `shown`: the program, its Python)."""
    lines: list[str] = []
    for key, value in extra.items():
        if _is_picture(key, value) or (isinstance(value, str) and any(
                s is not None and value.strip() == s.strip() for s in shown)):
            continue
        if isinstance(value, str):
            if "\n" in value or len(value) > TEXT_WIDTH:
                lines.append(f"{_label(key)}:")
                lines += ["  " + ln for ln in value.splitlines()[:3 * TEXT_ROWS]]
            else:
                lines.append(f"{_label(key):<9} {value}")
        elif _is_table(value):
            lines.append(f"{_label(key)}:")
            lines += ["  " + ln for ln in _table_text(value)]
    return lines


def html(extra: dict[str, Any], *, shown: tuple[Any, ...] = ()) -> str:
    """HTML for the sections: pictures as `<img>`, tables, text blocks, a dict as a list of its
    entries; a section equal to something the page shows already (`shown`: the program's text,
    its JSON) is left out. Pictures come first."""
    from netsynth.render import escape

    parts = []
    for key, value in sorted(extra.items(), key=lambda kv: not _is_picture(*kv)):
        if any(value == s or (isinstance(value, str) and isinstance(s, str)
                              and value.strip() == s.strip()) for s in shown if s is not None):
            continue
        name = TITLES.get(key, _label(key).capitalize())
        title = f"<h3>{escape(name)}</h3>"
        if _is_picture(key, value):
            parts.append(title + "".join(_img(key, v) for v in _pictures(value)))
        else:
            parts.append(title + _value_html(value))
    return "".join(parts)


def _value_html(value: Any) -> str:
    from netsynth.render import escape

    if isinstance(value, str):
        return f"<pre>{escape(value)}</pre>"
    if _is_table(value):
        columns = list(value[0])
        head = "".join(f"<th>{escape(_label(c))}</th>" for c in columns)
        rows = "".join("<tr>" + "".join(f"<td>{escape(_cell(r.get(c)))}</td>" for c in columns)
                       + "</tr>" for r in value)
        return f"<table><tr>{head}</tr>{rows}</table>"
    if isinstance(value, dict):
        items = "".join(f"<li><b>{escape(_label(str(k)))}</b>: "
                        + (_value_html(v) if _is_table(v) else escape(_compact(v))) + "</li>"
                        for k, v in value.items())
        return f"<ul>{items}</ul>"
    return f"<pre>{escape(_compact(value))}</pre>"


def _compact(value: Any, limit: int = 400) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _is_picture(key: str, value: Any) -> bool:
    if isinstance(value, str) and value.lstrip().startswith(("<svg", "<?xml")):
        return True
    named = key in ("svg", "png") or key.endswith(("_svg", "_png"))
    return named and (isinstance(value, str) or (isinstance(value, dict) and all(
        isinstance(v, str) for v in value.values())))


def _pictures(value: Any) -> list[str]:
    return list(value.values()) if isinstance(value, dict) else [value]


def _img(key: str, data: str) -> str:
    """A picture as an <img> of a data URL: an SVG's scripts never run in an image."""
    if data.lstrip().startswith(("<svg", "<?xml")):
        url = "data:image/svg+xml;base64," + base64.b64encode(data.encode()).decode()
    else:
        url = "data:image/png;base64," + "".join(data.split())
    return f'<figure><img alt="{key}" src="{url}" style="max-width:100%"></figure>'


def _is_table(value: Any) -> bool:
    return (isinstance(value, list) and bool(value) and all(isinstance(r, dict) for r in value)
            and all(list(r) == list(value[0]) for r in value))


def _table_text(rows: list[dict[str, Any]]) -> list[str]:
    columns = list(rows[0])
    cells = [[_cell(r.get(c)) for c in columns] for r in rows[:TEXT_ROWS]]
    widths = [max(len(_label(c)), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    out = ["  ".join(_label(c).ljust(w) for c, w in zip(columns, widths)).rstrip()]
    out += ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells]
    if len(rows) > TEXT_ROWS:
        out.append(f"... {len(rows) - TEXT_ROWS} more")
    return out


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else str(value)


def _number(value: Any) -> str:
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _label(key: str) -> str:
    return key.replace("_", " ")
