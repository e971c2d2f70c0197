"""crm-tui speed at a big rep's scale, each figure against a floor measured in the same run.

    python benchmarks/run.py [--size 100000] [--seed 7] [--runs 5] [--sessions 3] [--load] [--no-save]

Builds (once, cached outside the repo — see bench_data.py) a demo database of
``--size`` customers (≈3× deals, 3× tasks), then measures, headless at 120x40:

- process start → first paint, and → first customer rows, against a bare Textual app
  with one Label (median of ``--runs`` child processes each, interleaved);
- key ``down`` / ``pagedown`` in Customers, ``/`` search per keystroke (against raw
  sqlite3 running the same search), switching to Pipeline, stage moves (against the
  header aggregate alone), switching to Reports (every figure of the whole book: the report, the learned
  forecast's months and the goals panel), and
  peak RSS (against the bare app) — in ``--sessions`` child sessions, each figure the
  median over sessions of that session's p95 (or of its one value);
- the newer screens, in ``--sessions`` more child sessions as a rep (the owner with the most
  tasks): opening Orders, Products, the rep's day on Tasks (the agenda), the goals panel on
  Reports and a deal page's History until their rows are painted, and ``down`` / ``pagedown`` in
  each. The demo has no goals and an empty change journal, so the copy they run on is given five
  goals and a journal as a book in use has: one stage move on every deal, and 40 real moves
  (through the services) on the deal whose page is opened.

``--load`` runs one CPU-bound process (a busy loop) beside the whole measurement, as a neighbour
on a shared server would; the section says so and is saved apart from the unloaded one.

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

from bench_data import NOW, cached_demo, search_words, working_copy  # noqa: E402
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
        "reports_changed": [],
        "reports_again": [],
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
        res["reports_changed"].append(statistics.median(r["reports_changed"]))
        res["reports_again"].append(statistics.median(r["reports_again"]))
        res["rss"].append(r["rss_mib"])
        res["rss_customers"].append(r["rss_customers_mib"])
        res["rss_pipeline"].append(r["rss_pipeline_mib"])
        res["open_cards"] = r["open_cards"]
    return res


def busiest_owner(db: Path) -> str:
    """The owner with the most tasks: the longest day to show."""
    import sqlite3

    con = sqlite3.connect(db)
    try:
        row = con.execute("SELECT owner FROM task GROUP BY owner ORDER BY count(*) DESC, owner LIMIT 1").fetchone()
    finally:
        con.close()
    return row[0] if row else ""


def season(db_path: Path, user: str, moves: int = 40) -> int:
    """What the demo lacks for the newer screens, added to this copy: five goals, a journal as a
    book in use has (one stage move on every deal, copied in bulk from a real one) and ``moves``
    real stage moves on one of ``user``'s open deals; returns that deal's id."""
    import sqlite3

    from crm_tui.db import Database
    from crm_tui.errors import ValidationError
    from crm_tui.services import Services

    con = sqlite3.connect(db_path)
    try:
        deal_id, stage = con.execute(
            "SELECT d.id, s.name FROM deal d JOIN stage s ON s.id = d.stage_id WHERE d.owner = ? "
            "AND s.outcome = 'open' AND d.deleted_at IS NULL ORDER BY d.id LIMIT 1",
            (user,),
        ).fetchone()
    finally:
        con.close()
    db = Database.open(str(db_path))
    try:
        services = Services(db, user=user, clock=lambda: NOW)
        services.set_goal("won_value", "month", 120_000)
        services.set_goal("deals_won", "month", 40, owner=user)
        services.set_goal("deals_added", "quarter", 300)
        services.set_goal("activities_done", "week", 100, owner=user)
        services.set_goal("deals_advanced", "month", 50, stage=stage)
        step = 1
        for i in range(moves):
            if i == 1:  # after the first real move: every other deal gets one like it, in bulk
                _journal_in_bulk(db_path, deal_id)
            try:
                services.move_deal_step(deal_id, step)
            except ValidationError:  # the first or last open stage: the other way
                step = -step
                services.move_deal_step(deal_id, step)
            step = -step
    finally:
        db.close()
    return int(deal_id)


def _journal_in_bulk(db_path: Path, deal_id: int) -> None:
    import sqlite3

    con = sqlite3.connect(db_path)
    try:
        with con:
            entry = con.execute(
                "SELECT id, at, who, kind, action FROM journal WHERE deal_id = ? ORDER BY id DESC LIMIT 1", (deal_id,)
            ).fetchone()
            change = con.execute(
                "SELECT before, after FROM journal_change WHERE entry_id = ? AND table_name = 'deal'", (entry[0],)
            ).fetchone()
            first = con.execute("SELECT max(id) FROM journal").fetchone()[0]
            con.execute(
                "INSERT INTO journal (at, who, kind, action, record_table, record_id, deal_id, customer_id, undone) "
                "SELECT ?, owner, ?, 'move deal ' || title, 'deal', id, id, customer_id, 0 "
                "FROM deal WHERE id <> ? ORDER BY id",
                (entry[1], entry[3], deal_id),
            )
            con.execute(
                "INSERT INTO journal_change (entry_id, table_name, record_id, op, before, after) "
                "SELECT id, 'deal', record_id, 'update', ?, ? FROM journal WHERE id > ? ORDER BY id",
                (change[0], change[1], first),
            )
    finally:
        con.close()


SCREEN_FIGURES = (
    "customers_down",
    "customers_pagedown",
    "switch_floor",
    "orders_open",
    "orders_summary",
    "orders_down",
    "orders_pagedown",
    "products_open",
    "products_counted",
    "products_down",
    "products_pagedown",
    "agenda_open",
    "agenda_down",
    "agenda_pagedown",
    "goals_open",
    "goals_down",
    "goals_pagedown",
    "history_open",
    "history_down",
    "history_pagedown",
)
SCREEN_COUNTS = ("orders_count", "products_count", "agenda_lines", "goals_count", "history_lines")


def measure_screens(db_cached: Path, sessions: int, work: Path) -> dict:
    """The newer screens in ``sessions`` child sessions on one seasoned copy (they change nothing)."""
    user = busiest_owner(db_cached)
    db = working_copy(db_cached, work)
    t = time.monotonic()
    deal_id = season(db, user)
    print(f"  seasoned the copy (goals, journal) in {time.monotonic() - t:.0f} s", flush=True)
    res: dict = {name: [] for name in SCREEN_FIGURES}
    res["user"] = user
    for _ in range(sessions):
        _t0, r = child(f"screens({str(db)!r}, {user!r}, {deal_id}, 40, 30)", timeout=900)
        for name in SCREEN_FIGURES:
            res[name].append(p95(r[name]) if isinstance(r[name], list) else r[name])
        for name in SCREEN_COUNTS:
            res[name] = r[name]
    return res


def screen_rows(scr: dict) -> list[tuple[str, str, float, float | None, str]]:
    """The newer screens' rows: each opened (≤ 300 ms), then `down` / `pagedown` in it (≤ 50 ms)."""
    med = statistics.median
    opened = {
        "orders": f"switch to Orders, {scr['orders_count']:,} orders, until its rows are painted (ms)",
        "products": f"Products (`P` on Orders), {scr['products_count']:,} products, until its rows are painted (ms)",
        "agenda": f"switch to Tasks, the rep's day ({scr['agenda_lines']:,} lines), until painted (ms)",
        "goals": f"switch to Reports, until the goals panel ({scr['goals_count']} goals) is painted (ms)",
        "history": "a deal's page until its History is painted (ms)",
    }
    where = {
        "orders": "Orders",
        "products": "Products",
        "agenda": "Tasks (the agenda)",
        "goals": "Reports",
        "history": "a deal's page (History)",
    }
    switch = ("a switch to Customers (its rows read already)", med(scr["switch_floor"]))
    rows: list[tuple[str, str, float, float | None, str]] = []
    for key, name in opened.items():
        rows.append((name, switch[0], med(scr[f"{key}_open"]), switch[1], "≤ 300 ms"))
        if key == "orders":
            rows.append(
                ("Orders, until each status's count and total shown (ms)", "—", med(scr["orders_summary"]), None, "—")
            )
        if key == "products":
            counted = med(scr["products_counted"])
            rows.append(("Products, until each one's deals and orders are counted (ms)", "—", counted, None, "—"))
        for k in ("down", "pagedown"):
            floor = med(scr[f"customers_{k}"])
            rows.append(
                (
                    f"key `{k}` in {where[key]}, p95 (ms)",
                    "same key in Customers",
                    med(scr[f"{key}_{k}"]),
                    floor,
                    "≤ 50 ms",
                )
            )
    return rows


class BusyNeighbour:
    """One CPU-bound process (a busy loop) for as long as the ``with`` lasts (``--load``)."""

    def __init__(self, on: bool) -> None:
        self.on = on
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> BusyNeighbour:
        if self.on:
            self.proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()


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
        ("process start → first customer rows (ms)", "same floor", med(start["rows"]), med(start["bare"]), "≤ 1.5×"),
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
        (
            "Reports after a stage move, until every figure is the new one (ms)",
            "—",
            med(sess["reports_changed"]),
            None,
            "≤ 300 ms",
        ),
        (
            "switch back to Reports with no change since, until painted (ms)",
            "—",
            med(sess["reports_again"]),
            None,
            "≤ 100 ms",
        ),
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
    beside = " — with one CPU-bound process running beside it (`--load`)" if meta.get("load") else ""
    lines = [
        f"### {size:,} customers{beside} — {meta['when']}",
        "",
        f"Machine: {meta['machine']}; load average before/after: {meta['load_before']} / {meta['load_after']}; "
        f"CPU time stolen by the hypervisor during the run: {meta.get('steal', 'n/a')}; "
        f"{meta['runs']} start runs, {meta['sessions']} sessions (and as many of the newer screens, as "
        f"{meta['user']}); search words {', '.join(meta['words'])}.",
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


def save(section: str, size: int, path: Path, *, loaded: bool = False) -> None:
    """Replace this size's section of RESULTS.md (keep the others and the notes around them); a
    run with ``--load`` has a section of its own (left out of the scaling table)."""
    key = f"{size} load" if loaded else f"{size}"
    marker_start, marker_end = f"<!-- size {key} -->", f"<!-- /size {key} -->"
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
            out[re.sub(r"\b\d[\d,]*\s+", "", cells[0])] = float(cells[2])  # counts dropped: they grow with the size
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
    ap.add_argument(
        "--load", action="store_true", help="run one CPU-bound process (a busy loop) beside the whole measurement"
    )
    ap.add_argument("--no-save", action="store_true", help="print only; leave RESULTS.md as it is")
    args = ap.parse_args(argv)

    db_cached = cached_demo(args.size, args.seed)
    meta = {
        "when": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "machine": machine(),
        "load_before": load(),
        "runs": args.runs,
        "sessions": args.sessions,
        "load": args.load,
    }
    ticks_before = cpu_times()
    with tempfile.TemporaryDirectory(prefix="crm-bench-") as tmp, BusyNeighbour(args.load):
        work = Path(tmp)
        db = working_copy(db_cached, work)
        print(f"measuring start-up ({args.runs} runs each) …", flush=True)
        start = measure_start(db, args.runs)
        print(f"measuring {args.sessions} interactive sessions …", flush=True)
        sess = measure_sessions(db_cached, args.sessions, work)
        print(f"measuring the newer screens ({args.sessions} sessions) …", flush=True)
        scr = measure_screens(db_cached, args.sessions, work)
    meta["load_after"] = load()
    meta["steal"] = steal_share(ticks_before, cpu_times())
    meta["words"] = sess["words"]
    meta["user"] = scr["user"]
    section = render(rows_of_table(start, sess) + screen_rows(scr), args.size, meta)
    print()
    print(section)
    if not args.no_save:
        save(section, args.size, HERE / "RESULTS.md", loaded=args.load)
        save_scaling(HERE / "RESULTS.md")
        print(f"saved to {HERE / 'RESULTS.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
