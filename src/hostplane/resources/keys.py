"""Key names a desktop action may press: the official client's and Anthropic computer use's
spellings (`ctrl+c`, `Return`, `cmd`, `PageDown`...) checked and turned into X keysyms for
xdotool."""

from __future__ import annotations

from typing import Any

from hostplane import errors

_ALIASES = {
    "ctrl": "ctrl", "control": "ctrl", "alt": "alt", "option": "alt", "shift": "shift",
    "super": "super", "win": "super", "windows": "super", "meta": "super", "cmd": "super",
    "command": "super",
    "enter": "Return", "return": "Return", "tab": "Tab", "esc": "Escape", "escape": "Escape",
    "backspace": "BackSpace", "delete": "Delete", "del": "Delete", "insert": "Insert",
    "home": "Home", "end": "End", "pageup": "Page_Up", "page_up": "Page_Up",
    "pagedown": "Page_Down", "page_down": "Page_Down", "up": "Up", "down": "Down",
    "left": "Left", "right": "Right", "arrowup": "Up", "arrowdown": "Down",
    "arrowleft": "Left", "arrowright": "Right", "space": "space", "menu": "Menu",
    "print": "Print", "printscreen": "Print", "capslock": "Caps_Lock", "caps_lock": "Caps_Lock",
    "numlock": "Num_Lock", "pause": "Pause", "minus": "minus", "plus": "plus",
    "equal": "equal", "comma": "comma", "period": "period", "slash": "slash",
    "backslash": "backslash", "semicolon": "semicolon", "apostrophe": "apostrophe",
    "grave": "grave", "bracketleft": "bracketleft", "bracketright": "bracketright",
    "super_l": "Super_L", "control_l": "Control_L", "control_r": "Control_R",
    "alt_l": "Alt_L", "alt_r": "Alt_R", "shift_l": "Shift_L", "shift_r": "Shift_R",
    "kp_enter": "KP_Enter", "xf86audiomute": "XF86AudioMute",
    "xf86audioraisevolume": "XF86AudioRaiseVolume",
    "xf86audiolowervolume": "XF86AudioLowerVolume",
}
_ALIASES.update({f"f{n}": f"F{n}" for n in range(1, 25)})
_PUNCT = {"+": "plus", "-": "minus", " ": "space", "/": "slash", "\\": "backslash",
          ".": "period", ",": "comma", ";": "semicolon", "'": "apostrophe", "`": "grave",
          "[": "bracketleft", "]": "bracketright", "=": "equal"}
MAX_KEYS = 8


def combo(value: Any, field: str) -> str:
    """`ctrl+shift+t` → `ctrl+shift+t` as xdotool names it; unknown names are refused (422)."""
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise errors.Invalid("No key was named.", field=field, rule="a key name such as "
                             "'Return', 'ctrl+c' or 'a'", fix="Send e.g. 'Return'.")
    text = value.strip()
    parts = ["+"] if text == "+" else [p for p in text.split("+")]
    if text.endswith("++"):
        parts = [*text[:-2].split("+"), "+"]
    if len(parts) > MAX_KEYS or any(p == "" for p in parts):
        raise _unknown(value, field)
    return "+".join(_one(p, value, field) for p in parts)


def _one(name: str, whole: str, field: str) -> str:
    if len(name) == 1:
        if name.isalnum() and name.isascii():
            return name
        if name in _PUNCT:
            return _PUNCT[name]
        raise _unknown(whole, field)
    found = _ALIASES.get(name.lower())
    if found is None:
        raise _unknown(whole, field)
    return found


def _unknown(value: str, field: str) -> errors.Invalid:
    return errors.Invalid(f"{value!r} is not a key combination this desktop knows.",
                          code="UNKNOWN_KEY", field=field,
                          rule="key names joined by '+': a letter or digit, or a name such as "
                               "Return, Tab, Escape, BackSpace, Up, F5, ctrl, alt, shift, super",
                          fix="Send e.g. 'ctrl+c', 'Return' or 'a'.")
