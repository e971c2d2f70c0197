"""`crm-tui export` against pandas doing the same joins, each figure a ratio to that floor.

    python benchmarks/export_bench.py [--size 300000] [--seed 7] [--runs 3] [--kind deals ...] [--no-save]

Reuses (or builds once) the cached demo database of ``--size`` customers
(``bench_data.cached_demo``; 300,000 customers ≈ 900,000 deals) and works on one private copy.
For each kind (default: deals), ``--runs`` rounds, each running in a fresh child process (so the
peak RSS, ``VmHWM`` from ``/proc/self/status``, is that run's alone), in alternating order:

- **ours**: ``crm_tui.io.exporter.export_kind(db, kind, FILE, "csv")``, the streamed export
  (what ``crm-tui export KIND -o FILE`` runs);
- **raw** (the floor the goal is judged against): the same joins (the exporter's own select for
  the kind, compiled to SQL) read by ``pandas.read_sql`` on the driver's own connection and
  written by ``DataFrame.to_csv``: no money or time formatting, no CSV-injection guard, no several
  product lines per deal;
- **floor**: the same select read by ``pandas.read_sql`` through SQLAlchemy (its result types
  applied, as the exporter reads), written by ``DataFrame.to_csv``.

Each child imports what its path needs (ours never imports pandas) before its clock starts;
the time is from opening the database to the file closed. Medians of the rounds; the ratios
are ours ÷ floor. This size's section of benchmarks/RESULTS.md (between ``<!-- export SIZE -->``
markers) is replaced by the run (``--no-save``: print only).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
GOAL_TIME, GOAL_RSS = 2.0, 1.5
#: ours, the floor through SQLAlchemy, the floor on the driver's connection (rounds rotate the order)
WHO = ("ours", "floor", "raw")


def peak_rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def child(who: str, db_path: str, kind: str, out: str, chunk: int | None) -> None:
    """One measured run; prints one JSON line."""
    from crm_tui.db import Database
    from crm_tui.io import exporter

    if who != "ours":
        import pandas as pd
    before = peak_rss_mib()
    t = time.perf_counter()
    db = Database.open(db_path, must_exist=True)
    if who == "ours":
        kw = {"chunk_rows": chunk} if chunk else {}
        rows = exporter.export_kind(db, kind, out, "csv", **kw)
    else:
        with db.read() as session:
            conn = session.connection()
            q, _cols = exporter.QUERIES[kind](conn)
            if who == "floor":  # through SQLAlchemy, as the exporter reads
                df = pd.read_sql(q, conn)
            else:  # the driver's own connection: the same SQL with nothing in between
                compiled = q.compile(dialect=conn.dialect)
                params = tuple(compiled.params[k] for k in compiled.positiontup or ())
                df = pd.read_sql(str(compiled), conn.connection.dbapi_connection, params=params or compiled.params)
        df.to_csv(out, index=False)
        rows = len(df)
    db.close()
    seconds = time.perf_counter() - t
    size = os.path.getsize(out)
    print(json.dumps({"s": seconds, "rss": peak_rss_mib(), "rss_before": before, "rows": rows, "bytes": size}))


def run_child(who: str, db: Path, kind: str, out: Path, chunk: int | None) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", who, "--db", str(db), "--kind", kind]
    cmd += ["--out", str(out)] + (["--chunk", str(chunk)] if chunk else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{who} {kind} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    out.unlink(missing_ok=True)
    return json.loads(lines[-1])


def cpu_times() -> tuple[int, int] | None:
    try:
        ticks = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    except (OSError, IndexError, ValueError):
        return None
    return (ticks[7] if len(ticks) > 7 else 0), sum(ticks)


def log(text: str) -> None:
    print(text, flush=True)


def measure(db: Path, kind: str, runs: int, work: Path, chunk: int | None) -> dict:
    got: dict[str, list[dict]] = {who: [] for who in WHO}
    for i in range(runs):
        order = WHO[i % len(WHO) :] + WHO[: i % len(WHO)]
        for who in order:
            r = run_child(who, db, kind, work / f"{who}-{kind}.csv", chunk)
            got[who].append(r)
            log(f"  {kind} round {i + 1} {who:5}: {r['s']:7.2f} s, peak {r['rss']:7.1f} MiB, {r['rows']:,} rows")
    med = {who: {k: statistics.median(r[k] for r in rs) for k in ("s", "rss")} for who, rs in got.items()}
    rows = got["ours"][0]["rows"]
    if any(r["rows"] != rows for rs in got.values() for r in rs):
        raise RuntimeError(f"{kind}: ours and the floor wrote different row counts")
    return {"kind": kind, "rows": rows, **med, "mib_out": got["ours"][0]["bytes"] / 2**20}


def render(results: list[dict], size: int, meta: dict) -> str:
    lines = [
        f"### Export: {size:,}-customer demo — {meta['when']}",
        "",
        f"`python benchmarks/export_bench.py --size {size}`; {meta['runs']} rounds, each run a fresh process, "
        f"medians; machine: {meta['machine']}; load average before/after: {meta['load']}; "
        f"CPU time stolen by the hypervisor: {meta['steal']}. Floors: the exporter's own select read by "
        "`pandas.read_sql` and written by `DataFrame.to_csv` (no money or time formatting, no CSV-injection "
        "guard, one product line per deal) — *raw*: on the driver's own connection (the stricter floor, which "
        "the goal is judged against), *SQLAlchemy*: through SQLAlchemy as the exporter reads.",
        "",
        "| kind | rows | CSV MiB | ours s | floor s (raw / SQLAlchemy) | time ratio (raw / SQLAlchemy) | goal "
        "| ours peak MiB | floor peak MiB (raw / SQLAlchemy) | memory ratio (raw / SQLAlchemy) | goal | met |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---|---|",
    ]
    for r in results:
        ours, raw, sa = r["ours"], r["raw"], r["floor"]
        tr, mr = ours["s"] / raw["s"], ours["rss"] / raw["rss"]
        met = "yes" if tr <= GOAL_TIME and mr <= GOAL_RSS else "no"
        lines.append(
            f"| {r['kind']} | {r['rows']:,} | {r['mib_out']:.1f} | {ours['s']:.2f} | {raw['s']:.2f} / {sa['s']:.2f} "
            f"| {tr:.2f}× / {ours['s'] / sa['s']:.2f}× | ≤ {GOAL_TIME}× | {ours['rss']:.1f} "
            f"| {raw['rss']:.1f} / {sa['rss']:.1f} | {mr:.2f}× / {ours['rss'] / sa['rss']:.2f}× "
            f"| ≤ {GOAL_RSS}× | {met} |"
        )
    return "\n".join(lines)


def save(section: str, size: int, path: Path) -> None:
    """Replace this size's export section (keep the other sizes and everything around them)."""
    start, end = f"<!-- export {size} -->", f"<!-- /export {size} -->"
    text = path.read_text()
    block = f"{start}\n{section}\n{end}"
    heading = "## Export (benchmarks/export_bench.py)"
    if start in text and end in text:
        text = text.split(start, 1)[0] + block + text.split(end, 1)[1]
    elif heading in text:
        head, tail = text.split(heading, 1)
        text = head + heading + "\n\n" + block + tail
    else:
        text = text.rstrip("\n") + f"\n\n{heading}\n\n" + block + "\n"
    path.write_text(text)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=300_000, help="customers in the demo database (default 300000)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--kind", action="append", help="kinds to export (default: deals)")
    ap.add_argument("--chunk", type=int, default=None, help="rows per chunk (default: the exporter's)")
    ap.add_argument("--no-save", action="store_true", help="print, do not write benchmarks/RESULTS.md")
    ap.add_argument("--child", choices=WHO, help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(HERE))
    if args.child:
        child(args.child, args.db, (args.kind or ["deals"])[0], args.out, args.chunk)
        return 0
    import platform

    from bench_data import cached_demo, working_copy

    kinds = args.kind or ["deals"]
    cached = cached_demo(args.size, args.seed, log=log)
    load_before = " ".join(f"{x:.1f}" for x in os.getloadavg())
    steal0 = cpu_times()
    with tempfile.TemporaryDirectory(prefix="crm-export-bench-") as tmp:
        work = Path(tmp)
        db = working_copy(cached, work)
        results = [measure(db, kind, args.runs, work, args.chunk) for kind in kinds]
    steal1 = cpu_times()
    steal = (
        f"{100 * (steal1[0] - steal0[0]) / (steal1[1] - steal0[1]):.0f}%"
        if steal0 and steal1 and steal1[1] > steal0[1]
        else "n/a"
    )
    meta = {
        "when": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "runs": args.runs,
        "machine": f"{os.cpu_count()} cores, Python {platform.python_version()}",
        "load": f"{load_before} / {' '.join(f'{x:.1f}' for x in os.getloadavg())}",
        "steal": steal,
    }
    section = render(results, args.size, meta)
    print(section)
    if not args.no_save:
        save(section, args.size, HERE / "RESULTS.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
