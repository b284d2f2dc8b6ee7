"""A computer's desktop (contract §11; issue 16): its sandbox and display brought up, its state
settled once the display takes input, its lifecycle, the organization's wallpaper on it, and the
computer-use actions of the official client (screenshot, click, type, key...), validated."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from PIL import Image

from hostplane import errors
from hostplane.compute import _desktop
from hostplane.compute.port import DESKTOP, SandboxSpec
from hostplane.db.helpers import on_rollback
from hostplane.db.scope import Scope
from hostplane.resources.common import get_resource
from hostplane.resources.env import Env
from hostplane.resources.models import Computer
from hostplane.resources import keys

if TYPE_CHECKING:
    from hostplane.api.container import Container

log = logging.getLogger("hostplane.desktop")
WHAT = "computer"
# cpu_count, memory_mb, disk_mb per size (the client's tiers).
SIZES = {"xs": (1, 1024, 4096), "small": (1, 2048, 10240), "medium": (2, 4096, 20480),
         "large": (4, 8192, 40960), "xl": (8, 16384, 81920)}
BOOTING = ("provisioning", "starting")
MAX_TEXT = 10_000
MAX_WAIT = 30.0
PLAIN = (32, 33, 36)  # the background of a desktop whose organization has no wallpaper
png = _desktop.png


def boot(scope: Scope, computer: Computer, env: Env, width: int, height: int) -> None:
    """Make the computer's sandbox and start its desktop; `starting` until the display takes
    input (see settle). If the transaction does not commit, the sandbox is removed again."""
    cpu, memory, disk = env.capacity.fit(*SIZES.get(computer.size, SIZES["small"]))
    spec = SandboxSpec(id=computer.id, slug=computer.slug, cpu_count=cpu, memory_mb=memory,
                       disk_mb=disk)
    on_rollback(scope.session, lambda: env.driver.destroy_sandbox(spec.id))
    status = env.driver.create_sandbox(spec)
    if not status.running:
        computer.state, computer.status_reason = "error", status.reason
        return
    env.driver.start_desktop(computer.id, width, height)  # type: ignore[attr-defined]
    computer.state, computer.status_reason = "starting", "the desktop is starting"
    computer.started_at = env.now


def settle(scope: Scope, computer: Computer, env: Env) -> None:
    """A booting computer whose display now takes input becomes `running` (its wallpaper goes
    on first); a running one whose sandbox is gone (the machine restarted) becomes `stopped`."""
    if computer.destroyed_at is not None or DESKTOP not in env.driver.capabilities():
        return
    if computer.state == "running":
        status = env.driver.sandbox_status(computer.id)
        if status.state == "stopped":
            computer.state, computer.status_reason = "stopped", status.reason
            scope.session.flush()
        return
    if computer.state not in BOOTING:
        return
    if env.driver.desktop_ready(computer.id):  # type: ignore[attr-defined]
        try:
            apply_wallpaper(scope, computer.id, env)
        except errors.HostplaneError as exc:  # the desktop works without it
            log.warning("wallpaper of computer %s not set: %s", computer.id, exc.message)
        computer.state, computer.status_reason = "running", None
        scope.session.flush()


def remove(computer: Computer, env: Env) -> None:
    if DESKTOP in env.driver.capabilities():
        env.driver.destroy_sandbox(computer.id)
        env.driver.forget_desktop(computer.id)  # type: ignore[attr-defined]


# Lifecycle


def start(scope: Scope, computer_id: str, env: Env) -> Computer:
    computer = _locked(scope, computer_id)
    _capable(env)
    if computer.state not in ("running", *BOOTING):
        status = env.driver.start_sandbox(computer.id)
        if not status.running:
            computer.state, computer.status_reason = "error", status.reason
        else:
            env.driver.start_desktop(computer.id, 0, 0)  # type: ignore[attr-defined]
            computer.state, computer.status_reason = "starting", "the desktop is starting"
    scope.session.flush()
    settle(scope, computer, env)
    return computer


def stop(scope: Scope, computer_id: str, env: Env) -> Computer:
    computer = _locked(scope, computer_id)
    _capable(env)
    if computer.state != "stopped":
        env.driver.stop_sandbox(computer.id)
        env.driver.forget_desktop(computer.id)  # type: ignore[attr-defined]
        computer.state, computer.status_reason = "stopped", "stopped on request"
    scope.session.flush()
    return computer


def restart(scope: Scope, computer_id: str, env: Env) -> Computer:
    stop(scope, computer_id, env)
    return start(scope, computer_id, env)


# Wallpaper


def apply_wallpaper(scope: Scope, computer_id: str, env: Env, *, plain: bool = False) -> bool:
    """The organization's validated wallpaper, scaled to fill the display, as the desktop's
    background; False when it has none (then, with `plain`, the background goes plain)."""
    from hostplane.branding.service import get_branding

    record = get_branding(scope)
    asset = ((record.assets or {}) if record is not None else {}).get("wallpaper") or {}
    url = asset.get("url")
    path = env.assets.path(scope.tenant_id, url.rsplit("/", 1)[-1]) \
        if url and env.assets is not None and asset.get("status") in ("ready", None) else None
    if path is None and not plain:
        return False
    size = env.driver.desktop_size(computer_id)  # type: ignore[attr-defined]
    if path is None:
        fitted = Image.new("RGB", size, PLAIN)
    else:
        with Image.open(path) as image:
            fitted = _cover(image.convert("RGB"), size)
    env.driver.desktop_background(computer_id, fitted)  # type: ignore[attr-defined]
    return path is not None


def refresh_wallpapers(container: Container, tenant_id: str) -> int:
    """After a branding change: every running desktop of the organization gets the wallpaper
    it has now (or a plain background if it has none). Answers how many were changed."""
    from hostplane.db.scope import Scope as _Scope

    assert container.driver is not None
    if DESKTOP not in container.driver.capabilities():
        return 0
    env = Env(container.platform, container.driver, container.clock.now(), container.resolver,
              container.databases, container.capacity, container.releases, container.assets)
    changed = 0
    with container.database.transaction(write=False) as session:
        scope = _Scope(session, tenant_id, None)
        ids = [c.id for c in session.scalars(scope.select(Computer).where(
            Computer.state == "running", Computer.destroyed_at.is_(None)))]
        for computer_id in ids:
            try:
                apply_wallpaper(scope, computer_id, env, plain=True)
                changed += 1
            except errors.HostplaneError as exc:
                log.warning("wallpaper of computer %s not set: %s", computer_id, exc.message)
    return changed


def _cover(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Scaled to fill `size`, the overflow cropped evenly (the way desktops fill)."""
    width, height = size
    scale = max(width / image.width, height / image.height)
    scaled = image.resize((max(width, round(image.width * scale)),
                           max(height, round(image.height * scale))), Image.Resampling.BILINEAR)
    left, top = (scaled.width - width) // 2, (scaled.height - height) // 2
    return scaled.crop((left, top, left + width, top + height))


# Computer use


def running(scope: Scope, computer_id: str, env: Env) -> Computer:
    """The computer, if its desktop takes input now; else 409 with what to do."""
    computer = get_resource(scope, Computer, computer_id, WHAT)
    settle(scope, computer, env)
    if computer.state in BOOTING:
        raise errors.Conflict(f"Computer {computer_id} is still starting.",
                              code="COMPUTER_STARTING", fix="Retry in a second.")
    if computer.state != "running":
        raise errors.Conflict(f"Computer {computer_id} is {computer.state}.",
                              code="COMPUTER_NOT_RUNNING",
                              fix="Start it (POST /computers/{id}/start).")
    return computer


def screen_size(scope: Scope, computer_id: str, env: Env) -> tuple[int, int]:
    running(scope, computer_id, env)
    size: tuple[int, int] = env.driver.desktop_size(computer_id)  # type: ignore[attr-defined]
    return size


def screenshot(scope: Scope, computer_id: str, env: Env,
               region: tuple[int, int, int, int] | None = None) -> bytes:
    running(scope, computer_id, env)
    if region is None:
        return env.driver.desktop_png(computer_id)  # type: ignore[attr-defined,no-any-return]
    frame = env.driver.desktop_frame(computer_id)  # type: ignore[attr-defined]
    if region is not None:
        x, y, w, h = region
        _inside(frame.size, x, y, "x", "y")
        if w < 1 or h < 1 or x + w > frame.width or y + h > frame.height:
            raise errors.Invalid(f"The region {w}x{h} at ({x}, {y}) is not inside the "
                                 f"{frame.width}x{frame.height} screen.", field="width",
                                 rule="1 <= width, height and the region inside the screen",
                                 fix="Shrink the region to fit the screen.")
        frame = frame.crop((x, y, x + w, y + h))
    return png(frame)


def act(scope: Scope, computer_id: str, env: Env, action: str, body: dict[str, Any]) -> str:
    """One input action: validated, turned into xdotool arguments, run on the display. Answers
    the message of the ActionResponse."""
    running(scope, computer_id, env)
    if action == "wait":
        seconds = float(body.get("seconds", 0))
        if not 0 <= seconds <= MAX_WAIT:
            raise errors.Invalid(f"seconds {seconds} is out of range.", field="seconds",
                                 rule=f"0 to {MAX_WAIT}", fix="Wait in several shorter steps.")
        time.sleep(seconds)
        return f"Waited {seconds} s."
    size = env.driver.desktop_size(computer_id) if _needs_size(body) else None  # type: ignore
    steps = _pointer(action, body, size)
    if steps is not None:
        env.driver.desktop_pointer(computer_id, steps[0])  # type: ignore[attr-defined]
        return steps[1]
    argv, message, stdin = _xdotool(action, body, size)
    result = env.driver.desktop_run(computer_id, argv, input=stdin)  # type: ignore[attr-defined]
    if result.exit_code != 0:
        raise errors.Unavailable(f"The desktop refused {action}: {result.stderr.strip()[:300]}",
                                 code="DESKTOP_ACTION_FAILED", fix="Check the desktop is up.")
    return message


_BUTTONS = {"left": 1, "middle": 2, "right": 3}


def _pointer(action: str, body: dict[str, Any],
             size: tuple[int, int] | None) -> tuple[list[tuple[Any, ...]], str] | None:
    """Pointer actions as XTEST steps (the agent's fast path); None for the others."""
    def point(xk: str = "x", yk: str = "y") -> tuple[int, int]:
        x, y = _int(body, xk), _int(body, yk)
        assert size is not None
        _inside(size, x, y, xk, yk)
        return x, y

    if action in ("click", "double-click", "mouse-down", "mouse-up"):
        name = body.get("button", "left") if action != "double-click" else "left"
        if name not in _BUTTONS:
            raise errors.Invalid(f"button {name!r} is not a mouse button.", field="button",
                                 rule="left, right or middle", fix="Send button 'left'.")
        b = _BUTTONS[name]
        x, y = point()
        presses: list[tuple[Any, ...]] = {
            "click": [("down", b), ("up", b)],
            "double-click": [("down", b), ("up", b), ("sleep", 0.04), ("down", b), ("up", b)],
            "mouse-down": [("down", b)], "mouse-up": [("up", b)]}[action]
        return [("move", x, y), *presses], f"{action} at ({x}, {y})."
    if action == "move":
        x, y = point()
        return [("move", x, y)], f"Moved to ({x}, {y})."
    if action == "drag":
        (fx, fy), (tx, ty) = point("from_x", "from_y"), point("to_x", "to_y")
        steps: list[tuple[Any, ...]] = [("move", fx, fy), ("down", 1), ("sleep", 0.03)]
        steps += [("move", fx + (tx - fx) * i // 8, fy + (ty - fy) * i // 8) for i in range(1, 9)]
        return [*steps, ("sleep", 0.03), ("up", 1)], f"Dragged from ({fx}, {fy}) to ({tx}, {ty})."
    if action == "scroll":
        direction = body.get("direction", "down")
        wheel = {"up": 4, "down": 5, "left": 6, "right": 7}.get(direction)
        if wheel is None:
            raise errors.Invalid(f"direction {direction!r} is not a scroll direction.",
                                 field="direction", rule="up, down, left or right",
                                 fix="Send direction 'down'.")
        clicks = _int(body, "clicks", 3)
        if not 1 <= clicks <= 100:
            raise errors.Invalid(f"clicks {clicks} is out of range.", field="clicks",
                                 rule="1 to 100", fix="Scroll in several steps.")
        where = [("move", *point())] if body.get("x") is not None and body.get("y") is not None \
            else []
        return ([*where, *[s for _ in range(clicks) for s in (("down", wheel), ("up", wheel))]],
                f"Scrolled {direction} {clicks}.")
    return None


def _needs_size(body: dict[str, Any]) -> bool:
    return any(k in body and body[k] is not None for k in ("x", "from_x", "to_x"))


def _xdotool(action: str, body: dict[str, Any],
             size: tuple[int, int] | None) -> tuple[list[str], str, str]:
    if action == "type":
        text = body.get("text")
        if not isinstance(text, str) or not text:
            raise errors.Invalid("text is empty.", field="text", rule="1 or more characters",
                                 fix="Send the text to type.")
        if len(text) > MAX_TEXT or "\0" in text:
            raise errors.Invalid(f"text is {len(text)} characters.", field="text",
                                 rule=f"at most {MAX_TEXT} characters, no NUL",
                                 fix="Type it in several parts.")
        delay = body.get("delay")
        delay = 12 if delay is None else int(delay)
        if not 0 <= delay <= 1000:
            raise errors.Invalid(f"delay {delay} is out of range.", field="delay",
                                 rule="0 to 1000 ms between keystrokes", fix="Send delay 12.")
        # The text comes on standard input: never an argument xdotool could read as an option.
        return (["xdotool", "type", "--delay", str(delay), "--file", "-"],
                f"Typed {len(text)} characters.", text)
    if action in ("key", "key-down", "key-up"):
        combo = keys.combo(body.get("key"), "key")
        verb = {"key": "key", "key-down": "keydown", "key-up": "keyup"}[action]
        return ["xdotool", verb, "--", combo], f"{action} {combo}.", ""
    if action == "hotkey":
        names = body.get("keys")
        if not isinstance(names, list) or not names:
            raise errors.Invalid("keys is empty.", field="keys", rule="a list of 1 to 8 keys",
                                 fix="Send e.g. ['ctrl', 'c'].")
        combo = keys.combo("+".join(str(k) for k in names), "keys")
        return ["xdotool", "key", "--", combo], f"Pressed {combo}.", ""
    raise errors.NotFound(f"No desktop action {action!r}.", code="NOT_FOUND",
                          fix="See the API reference for desktop actions.")


def _int(body: dict[str, Any], key: str, default: int | None = None) -> int:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise errors.Invalid(f"{key} must be a whole number.", field=key, rule="an integer",
                             fix=f"Send {key} as a number of pixels.")
    return value


def _inside(size: tuple[int, int], x: int, y: int, xk: str, yk: str) -> None:
    width, height = size
    if not (0 <= x < width):
        raise errors.Invalid(f"{xk} {x} is outside the {width}x{height} screen.", field=xk,
                             rule=f"0 <= {xk} < {width}", fix="Take a screenshot and aim inside it.")
    if not (0 <= y < height):
        raise errors.Invalid(f"{yk} {y} is outside the {width}x{height} screen.", field=yk,
                             rule=f"0 <= {yk} < {height}", fix="Take a screenshot and aim inside it.")


def _capable(env: Env) -> None:
    if DESKTOP not in env.driver.capabilities():
        raise errors.Conflict(f"The {env.driver.name} compute driver cannot run desktops.",
                              code="DESKTOP_NOT_SUPPORTED",
                              fix="Run hostplane as root with bubblewrap installed.")


def _locked(scope: Scope, computer_id: str) -> Computer:
    computer = get_resource(scope, Computer, computer_id, WHAT)
    scope.session.refresh(computer, with_for_update=True)
    return computer
