"""Command palette entries: "Import customers…" … "Export orders…", one per kind.

One command per kind and direction, so a rep types "imp cus" and is at the file
prompt (crm_tui.tui.modals.import_export), whose preview step shows the import before it writes.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from textual.app import SystemCommand

from crm_tui.io.mapping import KINDS

IMPORT_HELP = "Preview, then read {kind} from a CSV or XLSX file (crm-tui, HubSpot, Salesforce, Pipedrive, Zoho)"
EXPORT_HELP = "Write every {kind} record to a CSV, XLSX or JSON file"


def transfer_commands(app) -> Iterator[SystemCommand]:
    for kind in KINDS:
        yield SystemCommand(
            f"Import {kind}…", IMPORT_HELP.format(kind=kind), partial(open_transfer, app, "import", kind)
        )
    for kind in KINDS:
        yield SystemCommand(
            f"Export {kind}…", EXPORT_HELP.format(kind=kind[:-1]), partial(open_transfer, app, "export", kind)
        )


def open_transfer(app, direction: str, kind: str) -> None:
    """Push the import or export prompt for ``kind``."""
    if app.db is None:
        app.notify("The database is still opening; try again in a moment", severity="warning", timeout=3)
        return
    from crm_tui.tui.modals.import_export import ExportScreen, ImportScreen

    app.push_screen(ImportScreen(kind) if direction == "import" else ExportScreen(kind))
