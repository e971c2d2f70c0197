"""mailto:/tel: links go to the desktop's opener as one argument, never a shell; over SSH or
with no display nothing is started and the reason is one line."""

from __future__ import annotations

import subprocess

import pytest

from crm_tui.tui.opener import desktop_opener, mailto_url, open_contact, open_url, tel_url

DESKTOP = {"DISPLAY": ":0"}


class FakePopen:
    def __init__(self) -> None:
        self.calls: list[tuple[object, dict]] = []

    def __call__(self, args, **kwargs):
        self.calls.append((args, kwargs))
        return self


def which(name: str) -> str:
    return f"/usr/bin/{name}"


@pytest.mark.parametrize(
    ("email", "url"),
    [
        ("ann@example.com", "mailto:ann@example.com"),
        ("a@b.c;rm -rf /", "mailto:a@b.c%3Brm%20-rf%20%2F"),
        ("--help@x", "mailto:--help@x"),
        ("$(reboot)@x`id`", "mailto:%24%28reboot%29@x%60id%60"),
        ("a@b.c?cc=boss@x&body=hi\n", "mailto:a@b.c%3Fcc%3Dboss@x%26body%3Dhi"),
    ],
)
def test_a_hostile_email_is_one_argument_of_a_url_never_an_option_or_a_command(email, url):
    popen = FakePopen()
    assert mailto_url(email) == url
    result = open_url(mailto_url(email), env=DESKTOP, platform="linux", which=which, popen=popen)
    assert result.ok
    [(args, kwargs)] = popen.calls
    assert args == ["/usr/bin/xdg-open", url]  # a list: no shell parses it
    assert not args[1].startswith("-") and kwargs["shell"] is False
    assert kwargs["stdout"] is subprocess.DEVNULL and kwargs["stderr"] is subprocess.DEVNULL


def test_phone_numbers_lose_their_separators_and_anything_else_is_refused():
    assert tel_url("+1 (555) 010-2030") == "tel:+15550102030"
    assert tel_url(" 030 / 123.45 ") == "tel:03012345"
    assert tel_url("+49 30 1234;ext=56") == "tel:+49301234;ext=56"
    assert tel_url("*31#555") == "tel:%2A31%23555"
    assert tel_url("--help") is None
    assert tel_url("555; rm -rf /") is None
    assert tel_url("call me") is None and tel_url("") is None


def test_over_ssh_or_without_a_display_nothing_starts_and_it_says_why():
    popen = FakePopen()
    ssh = {"DISPLAY": "localhost:10.0", "SSH_CONNECTION": "10.0.0.2 5000 10.0.0.1 22"}
    result = open_url("mailto:ann@example.com", env=ssh, platform="linux", which=which, popen=popen)
    assert not result.ok and "SSH" in result.reason and "\n" not in result.reason
    result = open_url("tel:+1555", env={}, platform="linux", which=which, popen=popen)
    assert not result.ok and "$DISPLAY" in result.reason
    assert popen.calls == []
    assert desktop_opener(env={"WAYLAND_DISPLAY": "wayland-0"}, platform="linux", which=which) == ["/usr/bin/xdg-open"]
    assert "xdg-open" in str(desktop_opener(env=DESKTOP, platform="linux", which=lambda _name: None))


def test_macos_uses_open_and_windows_startfile():
    popen = FakePopen()
    assert open_url("tel:+1555", env={}, platform="darwin", which=which, popen=popen).ok
    assert popen.calls[0][0] == ["/usr/bin/open", "tel:+1555"]
    started: list[str] = []
    assert open_url("mailto:a@b.c", env={}, platform="win32", startfile=started.append).ok
    assert started == ["mailto:a@b.c"]


def test_a_failing_opener_is_one_line_and_other_schemes_are_refused():
    def broken(args, **kwargs):
        raise PermissionError(13, "Permission denied")

    result = open_url("mailto:a@b.c", env=DESKTOP, platform="linux", which=which, popen=broken)
    assert not result.ok and result.reason == "the desktop's opener failed (Permission denied)"
    with pytest.raises(ValueError, match="only mailto: and tel:"):
        open_url("file:///etc/passwd", env=DESKTOP, platform="linux", which=which, popen=FakePopen())


def test_open_contact_says_in_one_line_what_happened_and_the_copy_key_otherwise():
    from crm_tui.tui.opener import open_contact

    popen = FakePopen()
    said = open_contact("email", "ann@acme.example", "Acme", env=DESKTOP, platform="linux", which=which, popen=popen)
    assert said.ok and said.reason == "Opening your mail app for 'Acme': ann@acme.example"
    said = open_contact("phone", "+1 555 0100", "Acme", env={}, platform="linux", which=which, popen=popen)
    assert not said.ok and said.reason.endswith("; Y copies the phone number instead")
    said = open_contact("phone", "ask reception", "Acme", env=DESKTOP, platform="linux", which=which, popen=popen)
    assert not said.ok and said.reason == "'ask reception' is not a phone number a phone app can call; Y copies it"
    assert [args for args, _kw in popen.calls] == [["/usr/bin/xdg-open", "mailto:ann@acme.example"]]


def test_what_the_copy_and_open_keys_say_never_carries_a_control_character_of_the_record():
    from crm_tui.tui.opener import copied

    said = copied("phone", "+1\x1b[2J555", "Evil\x07 Co")
    assert said.startswith("Copied phone number of 'Evil") and "\x1b" not in said and "\x07" not in said
    reason = open_contact("phone", "\x1b]52;c;x\x07", "Evil Co").reason
    assert "\x1b" not in reason and "\x07" not in reason
