"""The one rule for drawing database text: as typed, never obeyed."""

from crm_tui.tui.literal import literal, safe


def test_controls_never_reach_the_terminal_and_markup_stays_text():
    assert safe("[red]A[/red]\x1b[2J\x07") == "[red]A[/red]\ufffd[2J\ufffd"
    assert safe("two\nlines\tand\u2028more") == "two lines and\ufffdmore"
    assert literal("[b]x[/b]").plain == "[b]x[/b]"
    assert literal("a\nb\x1b", wrap=True).plain == "a\nb\ufffd"
