"""Desktops in the local driver: a computer is a sandbox whose desktop agent (desktop_agent.py)
runs Xvfb, openbox and x11vnc inside it. Screenshots are read straight from Xvfb's framebuffer
file (`-fbdir`, an XWD image in the sandbox's private /tmp) and encoded with Pillow; input and
window actions go to the agent over the sandbox's own loopback."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import socket
import stat
import struct
import threading
import time
from collections import OrderedDict
from io import BytesIO
from pathlib import Path
from typing import Any

from PIL import Image

from hostplane import errors
from hostplane.compute import _holder, desktop_agent
from hostplane.compute.port import ExecResult

AGENT_PORT = desktop_agent.AGENT_PORT
_AGENT_SOURCE = Path(desktop_agent.__file__).read_text()
_HEADER = struct.Struct(">25I")  # XWD file header: 25 big-endian words, then the window name
_MAX_FRAME = 8192 * 8192 * 4
_KEPT_SHOTS = 8


def boot_command(width: int, height: int) -> str:
    """The sandbox command that brings the desktop up and then serves the agent."""
    return (f"exec python3 -c {shlex.quote(_AGENT_SOURCE)} {int(width)} {int(height)} "
            ">>/tmp/.desktop-agent.log 2>&1")


class LocalDesktops:
    """Mixed into LocalDriver (which provides start_process, open_connection, _workspace)."""

    def start_desktop(self, sandbox_id: str, width: int, height: int) -> None:
        """Start the desktop's agent unless it already answers; it is up when desktop_ready."""
        if self.desktop_ready(sandbox_id):
            return
        saved = self._workspace(sandbox_id).parent / "desktop.json"  # type: ignore[attr-defined]
        if width and height:
            saved.write_text(json.dumps({"width": width, "height": height}))
        else:  # a start after a stop: the size it was made with
            with contextlib.suppress(OSError, ValueError, KeyError):
                found = json.loads(saved.read_text())
                width, height = int(found["width"]), int(found["height"])
        self.start_process(sandbox_id, boot_command(width or 1920, height or 1080))  # type: ignore

    def desktop_ready(self, sandbox_id: str) -> bool:
        """Whether the display takes input: the agent answers only once it does."""
        try:
            self._agent(sandbox_id, {"op": "ping"}, timeout=1.0)
        except errors.HostplaneError:
            return False
        return True

    def desktop_run(self, sandbox_id: str, argv: list[str], *, input: str = "",
                    timeout: float = 10.0) -> ExecResult:
        """Run a program on the desktop's display (inside the computer) and wait for it."""
        started = time.monotonic()
        answer = self._agent(sandbox_id, {"op": "run", "argv": argv, "input": input,
                                          "timeout": timeout}, timeout=timeout + 5)
        return ExecResult(stdout=answer["out"], stderr=answer["err"], exit_code=answer["code"],
                          duration_ms=int((time.monotonic() - started) * 1000))

    def desktop_pointer(self, sandbox_id: str, steps: list[tuple[Any, ...]]) -> None:
        """Pointer steps through XTEST: ("move", x, y), ("down" | "up", button), ("sleep", s)."""
        answer = self._agent(sandbox_id, {"op": "pointer", "steps": steps})
        if answer["code"] != 0:
            raise errors.Unavailable(f"The desktop refused the pointer: {answer['err']}",
                                     code="DESKTOP_ACTION_FAILED", fix="Retry.")

    def desktop_cursor(self, sandbox_id: str) -> tuple[int, int]:
        answer = self._agent(sandbox_id, {"op": "cursor"})
        x, y = answer["out"].split()
        return int(x), int(y)

    def desktop_spawn(self, sandbox_id: str, argv: list[str]) -> int:
        """Start a program on the desktop and leave it running; its pid in the computer."""
        answer = self._agent(sandbox_id, {"op": "spawn", "argv": argv})
        if answer["code"] != 0:
            raise errors.Invalid(f"{argv[0]!r} could not be started: {answer['err']}",
                                 field="app", rule="a program installed in the computer",
                                 fix="Name a program the computer has (e.g. xterm, chromium).")
        return int(answer["out"])

    def desktop_background(self, sandbox_id: str, image: Image.Image) -> None:
        """Make `image` (already the display's size) the desktop's background."""
        data = image.convert("RGB").tobytes("raw", "BGRX")
        answer = self._agent(sandbox_id, {"op": "wallpaper", "width": image.width,
                                          "height": image.height, "size": len(data)},
                             payload=data, timeout=15.0)
        if answer["code"] != 0:
            raise errors.Unavailable(f"The wallpaper could not be set: {answer['err']}",
                                     code="DESKTOP_UNAVAILABLE", fix="Retry.")

    def desktop_png(self, sandbox_id: str) -> bytes:
        """The whole screen as PNG. An unchanged screen is not encoded again: the last few
        screens' bytes and PNGs are kept (agents poll a screen that is mostly still)."""
        data = self._framebuffer(sandbox_id)
        shots: OrderedDict[str, tuple[bytes, bytes]] = self.__dict__.setdefault(
            "_shots", OrderedDict())
        last = shots.get(sandbox_id)
        if last is not None and last[0] == data:
            shots.move_to_end(sandbox_id)
            return last[1]
        encoded = png(self._image(sandbox_id, data))
        shots[sandbox_id] = (data, encoded)
        shots.move_to_end(sandbox_id)
        while len(shots) > _KEPT_SHOTS:
            shots.popitem(last=False)
        return encoded

    def desktop_size(self, sandbox_id: str) -> tuple[int, int]:
        """The screen's width and height, from the framebuffer file's header alone."""
        header = self._framebuffer(sandbox_id, _HEADER.size)
        try:
            width, height = _HEADER.unpack_from(header)[4:6]
        except struct.error:
            raise _not_up(sandbox_id) from None
        return int(width), int(height)

    def desktop_frame(self, sandbox_id: str) -> Image.Image:
        """The screen as it is now, read from Xvfb's framebuffer file."""
        return self._image(sandbox_id, self._framebuffer(sandbox_id))

    def _image(self, sandbox_id: str, data: bytes) -> Image.Image:
        try:
            header = _HEADER.unpack_from(data)
            (size, _version, fmt, depth, width, height, _xo, byte_order, _unit, _bo, _pad, bpp,
             stride, _cls, _r, _g, _b, _bits, _entries, colors) = header[:20]
            if fmt != 2 or depth != 24 or bpp != 32 or byte_order != 0 or \
                    size + colors * 12 + stride * height > len(data):
                raise ValueError("not a 24-bit LSB ZPixmap")
        except (struct.error, ValueError) as exc:
            raise errors.Unavailable(f"The desktop's screen could not be read ({exc}).",
                                     code="DESKTOP_UNAVAILABLE", fix="Restart the computer.")
        offset = size + colors * 12
        return Image.frombuffer("RGB", (width, height), data, "raw", "BGRX", stride, 1) \
            if offset == 0 else Image.frombuffer(
                "RGB", (width, height), memoryview(data)[offset:offset + stride * height],
                "raw", "BGRX", stride, 1)

    # Helpers

    def _framebuffer(self, sandbox_id: str, size: int | None = None) -> bytes:
        """Xvfb's file, opened one name at a time without following links: the sandbox owns
        its /tmp and must not be able to point the host at a file of the host's."""
        home = self._workspace(sandbox_id).parent  # type: ignore[attr-defined]
        holder = _holder.read(home)
        if holder is None or not holder.alive():
            raise _not_up(sandbox_id)
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
        fds: list[int] = []
        try:
            fds.append(os.open(f"/proc/{holder.pid}/root/tmp", flags | os.O_DIRECTORY))
            fds.append(os.open(".desktop", flags | os.O_DIRECTORY, dir_fd=fds[-1]))
            fds.append(os.open("Xvfb_screen0", flags | os.O_NONBLOCK, dir_fd=fds[-1]))
            info = os.fstat(fds[-1])
            if not stat.S_ISREG(info.st_mode) or info.st_size > _MAX_FRAME:
                raise OSError("not Xvfb's framebuffer")
            with os.fdopen(os.dup(fds[-1]), "rb", buffering=0) as handle:
                return handle.read(size or info.st_size)  # type: ignore[no-any-return]
        except OSError:
            raise _not_up(sandbox_id) from None
        finally:
            for fd in fds:
                os.close(fd)

    def _agent(self, sandbox_id: str, request: dict[str, Any], *, payload: bytes = b"",
               timeout: float = 15.0) -> dict[str, Any]:
        """One request to the desktop's agent, on the connection kept open to it (one per
        desktop, one request at a time). A kept connection that turns out dead (the desktop
        was stopped or restarted: its agent, which never closes one, is gone and so never saw
        the request) is replaced once."""
        with self.__dict__.setdefault("_agents_lock", threading.Lock()):
            agents: dict[str, list[Any]] = self.__dict__.setdefault("_agents", {})
            entry = agents.setdefault(sandbox_id, [threading.Lock(), None])
        with entry[0]:
            for _ in range(2):
                sock, reused = entry[1], entry[1] is not None
                if sock is None:
                    try:
                        sock = self.open_connection(  # type: ignore[attr-defined]
                            sandbox_id, AGENT_PORT, timeout=timeout)
                    except errors.HostplaneError:
                        raise _not_up(sandbox_id) from None
                    entry[1] = sock
                try:
                    sock.settimeout(timeout)
                    sock.sendall(json.dumps(request).encode() + b"\n" + payload)
                    answer = _line(sock)
                    return json.loads(answer)  # type: ignore[no-any-return]
                except (OSError, ValueError):
                    with contextlib.suppress(OSError):
                        sock.close()
                    entry[1] = None
                    if not reused:
                        break
            raise _not_up(sandbox_id)

    def forget_desktop(self, sandbox_id: str) -> None:
        """Close the connection kept to a desktop that is gone."""
        agents: dict[str, list[Any]] = self.__dict__.get("_agents", {})
        entry = agents.pop(sandbox_id, None)
        if entry is not None and entry[1] is not None:
            with contextlib.suppress(OSError):
                entry[1].close()


def _line(sock: socket.socket) -> bytes:
    """One answer: bytes up to a newline (an agent's answer is one JSON line)."""
    chunks = []
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionResetError("the agent closed the connection")
        chunks.append(chunk)
        if chunk.endswith(b"\n"):
            return b"".join(chunks)


def png(image: Image.Image) -> bytes:
    """PNG bytes, fast: the lowest compression that still compresses (desktops are flat)."""
    out = BytesIO()
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()


def _not_up(sandbox_id: str) -> errors.Conflict:
    return errors.Conflict(f"The desktop of computer {sandbox_id} is not up (yet).",
                           code="COMPUTER_STARTING",
                           fix="Wait until its status is running, or start it.")


__all__ = ["AGENT_PORT", "LocalDesktops", "boot_command", "png"]
