"""The Textual user interface. Only this package imports textual."""

import os

# Textual repaints at most MAX_FPS times a second (default 60): a change that lands just after
# a frame waits up to 17 ms for the next. At 120 a key's result is on screen up to 8 ms sooner;
# frames are still only drawn when something changed. A TEXTUAL_FPS the user set wins.
os.environ.setdefault("TEXTUAL_FPS", "120")
