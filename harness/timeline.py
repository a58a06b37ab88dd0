"""A run's timeline (the Trace Event Format JSON that harness/evidence.py writes) drawn as inline SVG:
one lane per process, with its lifetime, lock holds, pool tasks, writes to stdout and queue puts and
gets; every mark has a tooltip with the details. Standard library only."""

from __future__ import annotations

import json
import os
import tempfile
from html import escape
from pathlib import Path

from harness.cells import visible

LANE, LABEL, WIDTH = 26, 230, 1000  # pixels: lane height, label column, whole drawing
COLOURS = {"process": "#d9dde3", "lock": "#f0a23b", "pool": "#4c8bd6", "queue": "#2e9e5b", "stdout": "#1b1b1b"}
LAYER = {cat: n for n, cat in enumerate(COLOURS)}  # drawn in this order: lifetimes at the back


def write(path: Path, trace: dict) -> str | None:
    """Write a run's timeline to `path`; None, or why it could not be written, in one line (a
    read-only or full folder: the run was judged all the same, so this is a warning, not an error).
    Written whole to a new file beside it, which then takes its name: what a run may have put at
    that name (a FIFO, a link to a file of the user's) is replaced, never written through or
    waited for; a file that could not be written whole is removed, if it can be: it is no timeline."""
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with open(fd, "w", encoding="utf-8") as f:
            f.write(json.dumps(trace))
        os.chmod(temporary, 0o644)  # as a file written by open() (mkstemp makes it the owner's only): the report may be another user
        os.replace(temporary, path)
    except OSError as exc:
        for leftover in filter(None, (temporary, path if path.is_file() and not path.is_symlink() else None)):
            try:
                os.unlink(leftover)
            except OSError:
                pass
        return f"timeline not written: {path}: {exc.strerror or exc}"
    return None


def svg(trace: dict) -> str:
    events = trace.get("traceEvents", [])
    names = {e["pid"]: e["args"]["name"] for e in events if e.get("ph") == "M" and e["name"] == "process_name"}
    order = {e["pid"]: e["args"]["sort_index"] for e in events if e.get("ph") == "M" and e["name"] == "process_sort_index"}
    lanes = sorted(names, key=lambda pid: order.get(pid, 0))
    marks = [e for e in events if e.get("ph") in ("X", "i") and e.get("pid") in names]
    if not lanes or not marks:
        return '<svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="300" height="20"><text x="0" y="14">no evidence recorded</text></svg>'
    end = max(e["ts"] + e.get("dur", 0) for e in marks) or 1
    scale = (WIDTH - LABEL - 10) / end
    row = {pid: i for i, pid in enumerate(lanes)}
    height = LANE * len(lanes) + 24

    def x(ts: float) -> float:
        return round(LABEL + ts * scale, 1)

    out = [
        f'<svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="11">'
    ]
    for pid in lanes:
        y = row[pid] * LANE
        out.append(f'<text x="4" y="{y + 16}">{escape(visible(str(names[pid]))[:34])}</text>')
        out.append(f'<line x1="{LABEL}" y1="{y + LANE}" x2="{WIDTH}" y2="{y + LANE}" stroke="#eee"/>')
    for e in sorted(marks, key=lambda e: LAYER.get(e.get("cat"), 0)):
        y, cat = row[e["pid"]] * LANE, e.get("cat", "process")
        tip = escape(
            visible(
                f"{e['name']} at {e['ts'] / 1000:.1f} ms"
                + (f" for {e['dur'] / 1000:.1f} ms" if "dur" in e else "")
                + "".join(f"\n{k}: {v}" for k, v in (e.get("args") or {}).items() if v not in (None, "")),
                lines=True,
            )
        )
        colour = COLOURS.get(cat, "#888")
        if e["ph"] == "X" and cat in ("process", "lock", "pool"):
            top, tall = {"process": (y + 4, LANE - 8), "lock": (y + 7, LANE - 14), "pool": (y + 9, LANE - 18)}[cat]
            out.append(
                f'<rect class="{cat}" x="{x(e["ts"])}" y="{top}" width="{max(e["dur"] * scale, 1):.1f}" height="{tall}" '
                f'fill="{colour}"><title>{tip}</title></rect>'
            )
        elif cat == "stdout":
            text = escape(visible(str((e.get("args") or {}).get("data", "")).strip())[:12])
            out.append(
                f'<g class="stdout"><title>{tip}</title><line x1="{x(e["ts"])}" y1="{y + 3}" x2="{x(e["ts"])}" '
                f'y2="{y + LANE - 3}" stroke="{colour}" stroke-width="2"/>'
                f'<text x="{x(e["ts"]) + 2}" y="{y + 11}" font-size="9">{text}</text></g>'
            )
        elif cat == "queue":
            cx, cy = x(e["ts"]), y + LANE / 2
            shape = (
                f"{cx - 4},{cy + 4} {cx},{cy - 4} {cx + 4},{cy + 4}"
                if e["name"].startswith("put")
                else f"{cx - 4},{cy - 4} {cx},{cy + 4} {cx + 4},{cy - 4}"
            )
            out.append(f'<polygon class="queue" points="{shape}" fill="{colour}"><title>{tip}</title></polygon>')
        else:
            out.append(f'<circle class="event" cx="{x(e["ts"])}" cy="{y + LANE - 5}" r="2.5" fill="#666"><title>{tip}</title></circle>')
    axis = height - 8
    for i in range(6):
        ts = end * i / 5
        out.append(f'<text x="{x(ts)}" y="{axis}" fill="#555" text-anchor="middle">{ts / 1000:.0f} ms</text>')
    out.append("</svg>")
    return "".join(out)
