"""Windows, apps, the clipboard and the wallpaper of a computer's desktop: what the computer-use
API asks of openbox and the X display beyond pointer and keys (xdotool and xclip on the
display, through the desktop agent)."""

from __future__ import annotations

import re
from io import BytesIO
from typing import Any

from PIL import Image

from hostplane import errors
from hostplane.branding.assets import check_image
from hostplane.resources import desktop
from hostplane.resources.env import Env
from hostplane.db.scope import Scope

VERBS = ("resize", "move", "maximize", "minimize", "close")
_WINDOW_ID = re.compile(r"(0x[0-9a-fA-F]{1,8}|[0-9]{1,10})")
_APP = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}")
# What agents ask for by kind, and what this desktop has for it.
APPS = {
    "terminal": ["xterm"], "xterm": ["xterm"], "x-terminal-emulator": ["xterm"],
    "browser": ["chromium"], "chromium": ["chromium"], "chrome": ["chromium"],
    "google-chrome": ["chromium"], "firefox": ["chromium"], "web-browser": ["chromium"],
}
_BROWSER_FLAGS = ["--no-first-run", "--no-default-browser-check", "--disable-dev-shm-usage",
                  "--password-store=basic", "--no-sandbox", "--test-type"]
_LIST = r"""
active=$(xdotool getactivewindow 2>/dev/null)
for w in $(xdotool search --onlyvisible --name '.' 2>/dev/null); do
  eval "$(xdotool getwindowgeometry --shell "$w")"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$w" "$X" "$Y" "$WIDTH" "$HEIGHT" \
    "$([ "$w" = "$active" ] && echo 1 || echo 0)" "$(xdotool getwindowname "$w" | tr '\t\n' '  ')"
done
"""


def cursor(scope: Scope, computer_id: str, env: Env) -> dict[str, int]:
    desktop.running(scope, computer_id, env)
    x, y = env.driver.desktop_cursor(computer_id)  # type: ignore[attr-defined]
    return {"x": x, "y": y}


def windows(scope: Scope, computer_id: str, env: Env) -> list[dict[str, Any]]:
    out = _run(scope, computer_id, env, ["sh", "-c", _LIST])
    found = []
    for line in out.splitlines():
        parts = line.split("\t", 6)
        if len(parts) != 7 or not parts[1].lstrip("-").isdigit():
            continue
        wid, x, y, w, h, focused, title = parts
        if int(w) <= 1 or int(h) <= 1:
            continue
        found.append({"id": wid, "title": title.strip(), "app": None, "x": int(x), "y": int(y),
                      "width": int(w), "height": int(h), "focused": focused == "1"})
    return found


def window(scope: Scope, computer_id: str, env: Env, window_id: str) -> dict[str, Any]:
    desktop.running(scope, computer_id, env)  # another organization's computer: 404 first
    wid = _window_id(window_id)
    for found in windows(scope, computer_id, env):
        if found["id"] == wid or found["id"] == str(int(wid, 0)):
            return found
    raise errors.NotFound(f"No open window {window_id!r} on this desktop.",
                          code="WINDOW_NOT_FOUND", field="window_id",
                          fix="List the windows (GET /computers/{id}/desktop/windows).")


def window_action(scope: Scope, computer_id: str, env: Env, window_id: str, verb: str,
                  body: dict[str, Any]) -> None:
    found = window(scope, computer_id, env, window_id)
    wid = found["id"]
    if verb == "focus":
        argv = ["xdotool", "windowactivate", wid]
    elif verb == "resize":
        width, height = desktop._int(body, "width"), desktop._int(body, "height")
        if width < 1 or height < 1:
            raise errors.Invalid("width and height must be positive.", field="width",
                                 rule="1 or more pixels", fix="Send e.g. 800x600.")
        argv = ["xdotool", "windowsize", wid, str(width), str(height)]
    elif verb == "move":
        argv = ["xdotool", "windowmove", wid, str(desktop._int(body, "x")),
                str(desktop._int(body, "y"))]
    elif verb == "maximize":
        argv = ["xdotool", "windowmove", wid, "0", "0", "windowsize", wid, "100%", "100%"]
    elif verb == "minimize":
        argv = ["xdotool", "windowminimize", wid]
    else:  # close: ask it politely (the window manager's close), as a user would
        argv = ["sh", "-c", 'xdotool windowactivate --sync "$1" key --clearmodifiers alt+F4',
                "sh", wid]
    _run(scope, computer_id, env, argv)


def launch(scope: Scope, computer_id: str, env: Env, app: Any) -> int:
    if not isinstance(app, str) or not _APP.fullmatch(app):
        raise errors.Invalid(f"app {app!r} is not a program name.", field="app",
                             rule="a program name: letters, digits, '.', '_', '+', '-'",
                             fix="Send e.g. 'terminal', 'xterm' or 'browser'.")
    desktop.running(scope, computer_id, env)
    argv = list(APPS.get(app.lower(), [app]))
    if argv[0] == "chromium":
        argv += _BROWSER_FLAGS
    return int(env.driver.desktop_spawn(computer_id, argv))  # type: ignore[attr-defined]


def clipboard(scope: Scope, computer_id: str, env: Env, text: Any) -> str:
    if text is None:
        return _run(scope, computer_id, env,
                    ["sh", "-c", "xclip -selection clipboard -o 2>/dev/null || true"])
    if not isinstance(text, str) or len(text) > 1_000_000:
        raise errors.Invalid("text must be a string of at most 1,000,000 characters.",
                             field="text", rule="a string, at most 1,000,000 characters",
                             fix="Send the clipboard's text.")
    # xclip stays behind to serve the selection: its output must not hold our pipe open.
    _run(scope, computer_id, env,
         ["sh", "-c", "xclip -selection clipboard -i >/dev/null 2>&1"], stdin=text)
    return text


def wallpaper(scope: Scope, computer_id: str, env: Env, path: Any) -> None:
    if not isinstance(path, str) or not path.startswith("/"):
        raise errors.Invalid("path must be an absolute path inside the computer.", field="path",
                             rule="an absolute path to a PNG or JPEG in the computer (the "
                                  "computer has no network to fetch a URL from)",
                             fix="Write the image into the computer first, then send its path.")
    desktop.running(scope, computer_id, env)
    data = env.driver.read_file(computer_id, path, max_bytes=5 * 1024 * 1024)
    check_image(data, "wallpaper", field="path")
    size = env.driver.desktop_size(computer_id)  # type: ignore[attr-defined]
    with Image.open(BytesIO(data)) as image:
        fitted = desktop._cover(image.convert("RGB"), size)
    env.driver.desktop_background(computer_id, fitted)  # type: ignore[attr-defined]


def _window_id(value: str) -> str:
    if not _WINDOW_ID.fullmatch(value or ""):
        raise errors.Invalid(f"window_id {value!r} is not a window id.", field="window_id",
                             rule="a window id from GET /desktop/windows",
                             fix="List the windows and use one of their ids.")
    return value


def _run(scope: Scope, computer_id: str, env: Env, argv: list[str], stdin: str = "") -> str:
    desktop.running(scope, computer_id, env)
    result = env.driver.desktop_run(computer_id, argv, input=stdin)  # type: ignore[attr-defined]
    if result.exit_code != 0:
        raise errors.Unavailable(f"The desktop could not do that: {result.stderr.strip()[:300]}",
                                 code="DESKTOP_ACTION_FAILED", fix="Check the window still "
                                 "exists and retry.")
    return str(result.stdout)
