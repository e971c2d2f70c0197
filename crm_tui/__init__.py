"""crm-tui: a keyboard-driven CRM for the terminal.

The package root stays import-light on purpose: ``crm-tui --help`` and the
first paint of the TUI must not wait for SQLModel, pandas or the database.
"""

__version__ = "0.1.0"
