"""Modals that receive the keys typed in the same burst as the key that opened them.

Why this is needed: Textual routes a key to the widget that has focus when the
*app* takes the key from its queue, but the binding that opens a modal runs only
after its key has travelled down to the focused widget and bubbled back up to
the app. Over SSH, or from a fast typist, ``n`` and ``Acme`` arrive together:
the app hands ``A`` ``c`` ``m`` ``e`` to the list below before ``n`` has opened
the form, and they come back to the app, one by one, after the form is up. Keys
that the app takes after the push but before the form's first field has focus go
to the form screen itself. Either way they were lost (or, in a yes/no dialog,
answered a question nobody had seen yet).

``EarlyKeysModal`` gives focus only once it has every such key:

1. Built while the app handles the opening key, it listens to the messages the app
   processes (``App.message_signal``) and posts a marker to where that key went.
   Messages bubble up the same queues in order, so when the marker reaches the app,
   every key typed with the opening one has too.
2. Until then nothing in the modal has focus: keys the app hands to the modal are
   held (and its own bindings are switched off, so they cannot act early).
3. When the marker is back and the modal's queue is empty, it focuses its first
   widget (``Screen.set_focus``, synchronous) and replays the held keys there in the
   order they were typed (each key carries the time it was read). Keys typed later
   queue behind them. A timer ends the wait if the marker is lost.

Subclasses say what gets focus (``first_focus``) and may replay keys their own way
(``replay``); ``ConfirmScreen`` drops them instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, TypeVar

from textual import events
from textual.dom import DOMNode
from textual.message import Message
from textual.message_pump import MessagePump
from textual.reactive import var
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Input, TextArea

ResultT = TypeVar("ResultT")

#: the longest the modal waits for its marker (it normally returns within a few milliseconds)
MARKER_TIMEOUT = 0.5


class BurstEnd(Message):
    """The marker: it bubbles up behind the keys typed with the key that opened ``modal``."""

    def __init__(self, modal: EarlyKeysModal[Any]) -> None:
        super().__init__()
        self.modal = modal


class EarlyKeysModal(ModalScreen[ResultT]):
    """A modal that takes in, in order, the keys typed before its first widget had focus."""

    AUTO_FOCUS = ""  # focus is given by catch_up(), once the early keys are in

    #: True once the first widget has focus and the early keys were replayed
    caught_up: var[bool] = var(False)

    def __init__(self, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._early: list[events.Key] = []
        self._listening_to: DOMNode | None = None
        self._skip_opening_key = False
        self._marker_back = True
        self._listen_for_burst()

    # -- what subclasses decide ----------------------------------------------------------------

    def first_focus(self) -> Widget | None:
        """The widget that gets focus (and the early keys); None for none."""
        return None

    def replay(self, keys: Sequence[events.Key]) -> None:
        """Hand the early keys, in typing order, to the focused widget.

        Letters go straight into a focused text box (which never passes them on). From the
        first other key on (enter, tab, ctrl+s, …) the rest go through the app's queue, so
        the app routes each to the focused widget and then to the bindings, in order.
        """
        through_app = False
        for key in keys:
            focused = self.focused
            if not through_app and key.is_printable and isinstance(focused, (Input, TextArea)):
                focused.post_message(self.again(key))
            else:
                through_app = True
                self.app.post_message(self.again(key))

    def again(self, key: events.Key) -> events.Key:
        """A copy of ``key`` to post to a widget: it bubbles up to the app's bindings like a typed key.

        (A message stops bubbling at its sender: the copy is sent by the app, as the terminal's keys are.)
        """
        copy = events.Key(key.key, key.character)
        copy.set_sender(self.app)
        return copy

    # -- listening for the burst ---------------------------------------------------------------

    def _listen_for_burst(self) -> None:
        try:
            asyncio.get_running_loop()  # built in a thread worker: no key can race this modal
            app = self.app
            below = app.screen
        except Exception:  # noqa: BLE001 - no running app or no screen yet: nothing to catch up with
            return
        # keys went to the focused widget of the screen below (or to that screen) and bubble up through it
        target: MessagePump = app.focused or below
        app.message_signal.subscribe(below, self._app_processed, immediate=True)
        self._listening_to = below
        # the first message the app finishes after this is the one being handled now: the opening key
        self._skip_opening_key = True
        self._marker_back = not target.post_message(BurstEnd(self))
        if self._marker_back:
            self._stop_listening()

    def _app_processed(self, message: Message) -> None:
        """Every message the app has processed, while the burst may still be arriving (runs in the app's task)."""
        if self._skip_opening_key:
            self._skip_opening_key = False
            return
        if isinstance(message, BurstEnd):
            if message.modal is self:
                self._burst_over()
        elif isinstance(message, events.Key) and not self.caught_up:
            self._hold(message)

    def _hold(self, key: events.Key) -> None:
        if all(key is not held for held in self._early):  # the app and this screen may both see a key
            self._early.append(key)

    def _burst_over(self) -> None:
        self._marker_back = True
        self._stop_listening()
        if self.is_running:
            self.check_idle()  # catch up as soon as this modal's queue is empty

    def _stop_listening(self) -> None:
        if self._listening_to is not None:
            self.app.message_signal.unsubscribe(self._listening_to)
            self._listening_to = None

    # -- catching up ---------------------------------------------------------------------------

    def on_mount(self) -> None:
        if not self._marker_back:
            self.set_timer(MARKER_TIMEOUT, self._burst_over)

    def on_unmount(self) -> None:
        self._stop_listening()

    def on_key(self, event: events.Key) -> None:
        if not self.caught_up:
            # handed to this screen before anything had focus: held, and replayed on catch-up
            event.stop()
            event.prevent_default()
            self._hold(event)

    def on_idle(self) -> None:
        if not self.caught_up and self._marker_back and self.is_mounted:
            self.catch_up()

    def catch_up(self) -> None:
        """Focus the first widget and replay the early keys in the order they were typed."""
        self._stop_listening()
        keys = sorted(self._early, key=lambda key: key.time)
        self._early.clear()
        self.caught_up = True
        widget = self.first_focus()
        if widget is not None:
            self.set_focus(widget)
        self.replay(keys)

    def watch_caught_up(self, caught_up: bool) -> None:
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # a key bubbling back from the screen below must not act here before the rep has seen this modal
        return self.caught_up
