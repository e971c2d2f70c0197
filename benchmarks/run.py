"""crm-tui speed at a big rep's scale, each figure against a floor measured in the same run.

    python benchmarks/run.py [--size 100000] [--seed 7] [--runs 5] [--sessions 3] [--no-save]

Builds (once, cached outside the repo — see bench_data.py) a demo database of
``--size`` customers (≈3× deals, 3× tasks), then measures, headless at 120x40:

- process start → first paint, and → first customer rows, against a bare Textual app
  with one Label (median of ``--runs`` child processes each, interleaved);
- key ``down`` / ``pagedown`` in Customers, ``/`` search per keystroke (against raw
  sqlite3 running the same search), switching to Pipeline, stage moves (against the
  header aggregate alone), switching to Reports (every figure of the whole book), and
  peak RSS (against the bare app) — in ``--sessions`` child sessions, each figure the
  median over sessions of that session's p95 (or of its one value).

Prints the table and saves it with the date, machine and load to benchmarks/RESULTS.md
(the section for this size is replaced; other sizes are kept).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_data import cached_demo, search_words, working_copy  # noqa: E402
from bench_floors import aggregate_floor, search_floor  # noqa: E402


def p95(values: list[float]) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def child(call: str, timeout: float = 280) -> tuple[float, dict]:
    """Spawn ``python -c`` running ``bench_children.<call>``; (monotonic at spawn, its JSON)."""
    code = f"import sys; sys.path.insert(0, {str(HERE)!r}); import bench_children as b; b.{call}"
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("TEXTUAL", None)
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=env)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"benchmark child {call} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return t0, json.loads(lines[-1])


def measure_start(db: Path, runs: int) -> dict:
    """Interleaved runs: bare floor, crm-tui first paint, crm-tui first rows."""
    res = {"bare": [], "paint": [], "rows": [], "bare_rss": [], "rows_rss": []}
    for _ in range(runs):
        t0, r = child("bare()")
        res["bare"].append((r["paint"] - t0) * 1000)
        res["bare_rss"].append(r["rss_mib"])
        t0, r = child(f"app_start({str(db)!r}, 'paint')")
        res["paint"].append((r["paint"] - t0) * 1000)
        t0, r = child(f"app_start({str(db)!r}, 'rows')")
        res["rows"].append((r["paint"] - t0) * 1000)
        res["rows_rss"].append(r["rss_mib"])
    return res


def measure_sessions(db_cached: Path, sessions: int, work: Path) -> dict:
    words = search_words(db_cached)
    res: dict = {
        "down": [],
        "pagedown": [],
        "search": [],
        "search_floor": [],
        "pipeline": [],
        "move": [],
        "move_floor": [],
        "reports": [],
        "reports_tiles": [],
        "rss": [],
        "rss_customers": [],
        "rss_pipeline": [],
        "open_cards": 0,
        "words": words,
    }
    for _ in range(sessions):
        db = working_copy(db_cached, work)  # stage moves change it: every session starts the same
        _t0, r = child(f"session({str(db)!r}, {json.dumps(words)!r}, 40, 30, 30)", timeout=900)
        res["down"].append(p95(r["down"]))
        res["pagedown"].append(p95(r["pagedown"]))
        res["search"].append(p95(r["search"]))
        res["search_floor"].append(p95(search_floor(db, r["search_text"])))
        res["pipeline"].append(r["pipeline"])
        res["move"].append(p95(r["move"]))
        res["move_floor"].append(p95(aggregate_floor(db)))
        res["reports"].append(r["reports"])
        res["reports_tiles"].append(r["reports_tiles"])
        res["rss"].append(r["rss_mib"])
        res["rss_customers"].append(r["rss_customers_mib"])
        res["rss_pipeline"].append(r["rss_pipeline_mib"])
        res["open_cards"] = r["open_cards"]
    return res


def rows_of_table(start: dict, sess: dict) -> list[tuple[str, str, float, float | None, str]]:
    """(figure, floor name, ours, floor, goal) with medians."""
    med = statistics.median
    return [
        (
            "process start → first paint (ms)",
            "bare Textual app, one Label",
            med(start["paint"]),
            med(start["bare"]),
            "≤ 2.0×",
        ),
        ("process start → first customer rows (ms)", "same floor", med(start["rows"]), med(start["bare"]), "≤ 3.0×"),
        ("key `down` in Customers, p95 (ms)", "—", med(sess["down"]), None, "≤ 30 ms"),
        ("key `pagedown` in Customers, p95 (ms)", "—", med(sess["pagedown"]), None, "≤ 30 ms"),
        (
            "`/` search per keystroke until shown, p95 (ms)",
            "sqlite3: same search, count + page",
            med(sess["search"]),
            med(sess["search_floor"]),
            "≤ 50 ms",
        ),
        (
            f"switch to Pipeline, {sess['open_cards']:,} open deals, until painted (ms)",
            "—",
            med(sess["pipeline"]),
            None,
            "≤ 300 ms",
        ),
        (
            "stage move until every visible figure updated, p95 (ms)",
            "sqlite3: the header aggregate alone",
            med(sess["move"]),
            med(sess["move_floor"]),
            "≤ 50 ms",
        ),
        ("switch to Reports, until its tiles shown (ms)", "—", med(sess["reports_tiles"]), None, "—"),
        ("switch to Reports, until every figure shown (ms)", "—", med(sess["reports"]), None, "—"),
        ("peak RSS, whole session (MiB)", "bare Textual app", med(sess["rss"]), med(start["bare_rss"]), "≤ 250 MiB"),
        (
            "peak RSS before Reports: Customers, search, Pipeline (MiB)",
            "bare Textual app",
            med(sess["rss_pipeline"]),
            med(start["bare_rss"]),
            "—",
        ),
        (
            "peak RSS before Pipeline: Customers keys and search (MiB)",
            "bare Textual app",
            med(sess["rss_customers"]),
            med(start["bare_rss"]),
            "—",
        ),
        ("RSS at first customer rows (MiB)", "bare Textual app", med(start["rows_rss"]), med(start["bare_rss"]), "—"),
    ]


def render(table, size: int, meta: dict) -> str:
    lines = [
        f"### {size:,} customers — {meta['when']}",
        "",
        f"Machine: {meta['machine']}; load average before/after: {meta['load_before']} / {meta['load_after']}; "
        f"CPU time stolen by the hypervisor during the run: {meta.get('steal', 'n/a')}; "
        f"{meta['runs']} start runs, {meta['sessions']} sessions; search words {', '.join(meta['words'])}.",
        "",
        "| figure | floor | ours | floor value | ratio | goal | met |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for name, floor_name, ours, floor, goal in table:
        ratio = ours / floor if floor else None
        met = _met(goal, ours, ratio)
        lines.append(
            f"| {name} | {floor_name} | {ours:.1f} | {'' if floor is None else f'{floor:.1f}'} | "
            f"{'' if ratio is None else f'{ratio:.2f}×'} | {goal} | {met} |"
        )
    return "\n".join(lines) + "\n"


def _met(goal: str, ours: float, ratio: float | None) -> str:
    if goal.endswith("×") and ratio is not None:
        return "yes" if ratio <= float(goal.split()[1].rstrip("×")) else "no"
    if goal.endswith(("ms", "MiB")):
        return "yes" if ours <= float(goal.split()[1]) else "no"
    return ""


def save(section: str, size: int, path: Path) -> None:
    """Replace this size's section of RESULTS.md (keep the others and the notes around them)."""
    marker_start, marker_end = f"<!-- size {size} -->", f"<!-- /size {size} -->"
    block = f"{marker_start}\n{section}{marker_end}\n"
    text = path.read_text() if path.exists() else "# Benchmark results\n\n<!-- results -->\n"
    if marker_start in text and marker_end in text:
        before, rest = text.split(marker_start, 1)
        text = before + block + rest.split(marker_end, 1)[1].lstrip("\n")
    else:
        text = text.replace("<!-- results -->\n", f"<!-- results -->\n{block}\n", 1)
    path.write_text(text)


def _figures(section: str) -> dict[str, float]:
    """figure name (numbers dropped) → our value, from one saved section's table."""
    import re

    out = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 7 and cells[2].replace(".", "", 1).isdigit():
            out[re.sub(r"\d{1,3}(,\d{3})+\s+", "", cells[0])] = float(cells[2])
    return out


def scaling(text: str) -> str | None:
    """How each figure grows from the smallest to the largest size saved in RESULTS.md."""
    import re

    sizes = sorted(int(n) for n in re.findall(r"<!-- size (\d+) -->", text))
    if len(sizes) < 2:
        return None
    small, big = sizes[0], sizes[-1]
    get = lambda n: _figures(text.split(f"<!-- size {n} -->", 1)[1].split(f"<!-- /size {n} -->", 1)[0])  # noqa: E731
    a, b = get(small), get(big)
    growth = big / small
    lines = [
        f"How each figure grows from {small:,} to {big:,} customers ({growth:.0f}× the data):",
        "",
        f"| figure | {small:,} | {big:,} | growth | |",
        "|---|---:|---:|---:|---|",
    ]
    for name, low in a.items():
        if name not in b or not low:
            continue
        ratio = b[name] / low
        verdict = (
            "flat"
            if ratio < 1.5
            else "sub-linear"
            if ratio < 0.8 * growth
            else "linear"
            if ratio <= 1.25 * growth
            else "WORSE than linear"
        )
        lines.append(f"| {name} | {low:.1f} | {b[name]:.1f} | {ratio:.2f}× | {verdict} |")
    return "\n".join(lines) + "\n"


def save_scaling(path: Path) -> None:
    text = path.read_text()
    table = scaling(text)
    if table is None:
        return
    start, end = "<!-- scaling -->", "<!-- /scaling -->"
    block = f"{start}\n{table}{end}"
    if start in text and end in text:
        text = text.split(start, 1)[0] + block + text.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + f"\n\n## Scaling\n\n{block}\n"
    path.write_text(text)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.node()}, {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, {platform.system()}"


def load() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def cpu_times() -> tuple[int, int] | None:
    """(steal, total) jiffies of all CPUs since boot, from /proc/stat (Linux), else None."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except (OSError, IndexError):
        return None
    ticks = [int(x) for x in fields[:8]]
    return (ticks[7] if len(ticks) > 7 else 0), sum(ticks)


def steal_share(before, after) -> str:
    """The share of CPU time the hypervisor took from this machine between two ``cpu_times``:
    on a shared VM, a run with much steal measured the neighbours as much as crm-tui."""
    if before is None or after is None or after[1] <= before[1]:
        return "n/a"
    return f"{100 * (after[0] - before[0]) / (after[1] - before[1]):.0f}%"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=100_000, help="customers in the demo database (default 100000)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--runs", type=int, default=5, help="child processes per start-time figure (median)")
    ap.add_argument("--sessions", type=int, default=3, help="interactive sessions (median of their p95)")
    ap.add_argument("--no-save", action="store_true", help="print only; leave RESULTS.md as it is")
    args = ap.parse_args(argv)

    db_cached = cached_demo(args.size, args.seed)
    meta = {
        "when": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "machine": machine(),
        "load_before": load(),
        "runs": args.runs,
        "sessions": args.sessions,
    }
    ticks_before = cpu_times()
    with tempfile.TemporaryDirectory(prefix="crm-bench-") as tmp:
        work = Path(tmp)
        db = working_copy(db_cached, work)
        print(f"measuring start-up ({args.runs} runs each) …", flush=True)
        start = measure_start(db, args.runs)
        print(f"measuring {args.sessions} interactive sessions …", flush=True)
        sess = measure_sessions(db_cached, args.sessions, work)
    meta["load_after"] = load()
    meta["steal"] = steal_share(ticks_before, cpu_times())
    meta["words"] = sess["words"]
    section = render(rows_of_table(start, sess), args.size, meta)
    print()
    print(section)
    if not args.no_save:
        save(section, args.size, HERE / "RESULTS.md")
        save_scaling(HERE / "RESULTS.md")
        print(f"saved to {HERE / 'RESULTS.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
