"""How the README's screenshots are made: the four screens at 120x40 on the demo data.

    .venv/bin/python assets/screenshots/make.py

Builds the 2,000-customer demo (seed 7, as ``crm-tui demo``) in a temporary folder with a
frozen clock, saves each screen as SVG, and converts it to PNG with ``rsvg-convert``
(librsvg). Textual's SVG writes spaces as no-break spaces inside positioned text runs;
librsvg drops them at the start of a run unless whitespace is preserved, which would
glue words together ("Sales10,286"), so the SVG root gets ``xml:space="preserve"``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOW = dt.datetime(2026, 3, 16, 14, 30, tzinfo=dt.UTC)
SCREENS = {"customers": "1", "pipeline": "2", "tasks": "3", "reports": "4"}


async def shoot(db_path: Path, out: Path) -> list[Path]:
    from crm_tui.tui.app import create_app

    app = create_app(str(db_path), clock=lambda: NOW, poll=False, user="Amara Okafor")
    saved = []
    async with app.run_test(size=(120, 40)) as pilot:
        for name, key in SCREENS.items():
            await pilot.press(key)
            for _ in range(6):
                await app.workers.wait_for_complete()
                await pilot.pause(0.2)
            svg = out / f"{name}.svg"
            app.save_screenshot(str(svg))
            saved.append(svg)
    return saved


def main() -> int:
    from crm_tui import demo
    from crm_tui.db import Database

    converter = shutil.which("rsvg-convert")
    if converter is None:
        print("rsvg-convert (librsvg) is needed to turn the SVGs into PNGs", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "demo.sqlite3"
        db = Database.open(str(db_path))
        demo.generate(db, size=2000, seed=7, now=NOW)
        db.close()
        for svg in asyncio.run(shoot(db_path, Path(tmp))):
            text = svg.read_text().replace("<svg ", '<svg xml:space="preserve" ', 1)
            svg.write_text(text)
            png = HERE / svg.with_suffix(".png").name
            subprocess.run([converter, str(svg), "-o", str(png)], check=True)
            print(f"wrote {png.relative_to(HERE.parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
