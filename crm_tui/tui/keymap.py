"""The rep's keymap (settings.json ``"keymap"``: binding id → keys), checked so that a mistake
in it is said, never silently ignored: an id that no binding has (a typo), and an action left
without a key because the keymap gave its key to another action of the same screen or widget.

The ids are the ``id=`` of each ``Binding`` in the screens, modals and widgets; the palette
(ctrl+p) names every action, and its help line shows the key it is on now and its keymap id.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from textual.binding import Binding

if TYPE_CHECKING:
    from crm_tui.tui.app import CrmApp

#: seconds after the database opens that the check starts: after start-up's own reads
CHECK_AFTER = 2.0
#: the packages whose classes declare the app's bindings (beside the app itself)
PACKAGES = ("crm_tui.tui.screens", "crm_tui.tui.modals", "crm_tui.tui.widgets")


def declared() -> list[list[Binding]]:
    """The bindings each class of the app declares (a class's own and its bases'), one list per
    class. Imports every screen, modal and widget module: run it off the UI thread, and only
    when there is a keymap to check."""
    import importlib
    import pkgutil

    modules = [importlib.import_module("crm_tui.tui.app")]
    for name in PACKAGES:
        package = importlib.import_module(name)
        modules += [importlib.import_module(f"{name}.{info.name}") for info in pkgutil.iter_modules(package.__path__)]
    classes = {value for module in modules for value in vars(module).values() if isinstance(value, type)}
    return [
        [b for klass in cls.__mro__ for b in vars(klass).get("BINDINGS", ()) if isinstance(b, Binding)]
        for cls in classes
    ]


def left_without_key(keymap: Mapping[str, str], groups: list[list[Binding]]) -> list[Binding]:
    """The bindings the keymap leaves with no key: each of its keys given by the keymap to another
    binding of the same class (Textual then drops it from that key, and says nothing)."""
    left: dict[str, Binding] = {}
    for group in groups:
        taken = {k.strip() for b in group if b.id and b.id in keymap for k in keymap[b.id].split(",")}
        for b in group:
            if b.id and b.id not in keymap and {k.strip() for k in b.key.split(",")} <= taken:
                left.setdefault(b.id, b)
    return sorted(left.values(), key=lambda b: b.id or "")


def unknown_text(keymap: Mapping[str, str], groups: list[list[Binding]]) -> str | None:
    """The sentence naming the keymap's ids that no binding has, or None when there are none."""
    known = {b.id for group in groups for b in group if b.id}
    unknown = sorted(k for k in keymap if k not in known)
    if not unknown:
        return None
    import difflib

    hints = []
    for name in unknown:
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.7)
        hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return (
        f"Your keymap names {', '.join(hints)}, which no key has; those lines do nothing. "
        "Fix them in settings.json; ctrl+p shows each action's id beside its key."
    )


def clash_text(left: Iterable[Binding]) -> str | None:
    """The sentence for actions whose key the keymap gave to another action, or None."""
    named = [f"{b.description or b.action} ({b.id})" for b in left]
    if not named:
        return None
    return (
        f"Your keymap gave the key of {', '.join(named)} to another action; "
        f"{'it has' if len(named) == 1 else 'they have'} no key now. Give "
        f"{'it' if len(named) == 1 else 'each'} one in settings.json's keymap (ctrl+p still finds it by name)."
    )


def check(app: CrmApp) -> None:
    """Say the mistakes in ``app.rep_keymap`` (in a thread worker: it imports every screen)."""
    groups = declared()
    for said in (unknown_text(app.rep_keymap, groups), clash_text(left_without_key(app.rep_keymap, groups))):
        if said is not None:
            app.call_from_thread(app.notify, said, title="Keys", severity="warning", timeout=20, markup=False)
