"""The desktop agent: the one long-lived program hostplane starts inside a computer's sandbox.

It brings the desktop up (Xvfb, openbox, two x11vnc servers on the sandbox's own loopback: one
that takes input, one view-only), then answers the host on 127.0.0.1:AGENT_PORT inside the
sandbox's network (reached only through the driver's `open_connection`): run a program on the
display (xdotool, xclip...), start one, or set the root window's background. Standard library
only: it runs under the sandbox's own python3, never imports hostplane.

A request is one JSON line, then `size` raw bytes if it says so; the answer is one JSON line. A
connection carries requests one after another (the host keeps one open per desktop).
"""

import ctypes
import json
import os
import socketserver
import subprocess
import sys
import time

AGENT_PORT = 5999
VNC_PORT = 5900
VNC_VIEW_ONLY_PORT = 5901
DISPLAY = ":1"
RUN_DIR = "/tmp/.desktop"


def _env():
    env = dict(os.environ)
    env["DISPLAY"] = DISPLAY
    return env


def _start(argv, log):
    out = open(os.path.join(RUN_DIR, log), "ab")
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=_env(),
                            start_new_session=True)


def boot(width, height):
    os.makedirs(RUN_DIR, exist_ok=True)
    os.makedirs("/tmp/.X11-unix", mode=0o1777, exist_ok=True)
    _start(["Xvfb", DISPLAY, "-screen", "0", f"{width}x{height}x24", "-fbdir", RUN_DIR,
            "-nolisten", "tcp", "-dpi", "96"], "xvfb.log")
    x = _xlib()
    deadline = time.monotonic() + 20
    while True:  # up once a client can open it
        dpy = x.XOpenDisplay(DISPLAY.encode())
        if dpy:
            x.XCloseDisplay(dpy)
            break
        if time.monotonic() > deadline:
            sys.exit("Xvfb did not start; see /tmp/.desktop/xvfb.log")
        time.sleep(0.01)
    _start(["openbox"], "openbox.log")
    common = ["x11vnc", "-display", DISPLAY, "-localhost", "-shared", "-forever", "-nopw",
              "-quiet", "-noxdamage", "-nowf", "-nossl", "-norc", "-noipv6"]
    _start([*common, "-rfbport", str(VNC_PORT)], "vnc.log")
    _start([*common, "-rfbport", str(VNC_VIEW_ONLY_PORT), "-viewonly"], "vnc-view.log")


def _xlib():
    x = ctypes.CDLL("libX11.so.6")
    x.XOpenDisplay.restype = ctypes.c_void_p
    x.XOpenDisplay.argtypes = [ctypes.c_char_p]
    for name in ("XDefaultScreen", "XCloseDisplay", "XSync"):
        getattr(x, name).argtypes = [ctypes.c_void_p] + ([ctypes.c_int] if name == "XSync" else [])
    return x


def set_background(data, width, height):
    """The root window's background: `data` is width×height pixels, 4 bytes each (B, G, R, x)."""
    x = _xlib()
    x.XRootWindow.restype = ctypes.c_ulong
    x.XRootWindow.argtypes = [ctypes.c_void_p, ctypes.c_int]
    x.XDefaultVisual.restype = ctypes.c_void_p
    x.XDefaultVisual.argtypes = [ctypes.c_void_p, ctypes.c_int]
    x.XDefaultGC.restype = ctypes.c_void_p
    x.XDefaultGC.argtypes = [ctypes.c_void_p, ctypes.c_int]
    x.XDefaultDepth.argtypes = [ctypes.c_void_p, ctypes.c_int]
    x.XCreatePixmap.restype = ctypes.c_ulong
    x.XCreatePixmap.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_uint, ctypes.c_uint,
                                ctypes.c_uint]
    x.XCreateImage.restype = ctypes.c_void_p
    x.XCreateImage.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int,
                               ctypes.c_int, ctypes.c_char_p, ctypes.c_uint, ctypes.c_uint,
                               ctypes.c_int, ctypes.c_int]
    x.XPutImage.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_void_p,
                            ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                            ctypes.c_uint, ctypes.c_uint]
    x.XSetWindowBackgroundPixmap.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]
    x.XClearWindow.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
    x.XFreePixmap.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
    dpy = x.XOpenDisplay(DISPLAY.encode())
    if not dpy:
        raise RuntimeError("the display is not up")
    try:
        screen = x.XDefaultScreen(dpy)
        root = x.XRootWindow(dpy, screen)
        depth = x.XDefaultDepth(dpy, screen)
        pixmap = x.XCreatePixmap(dpy, root, width, height, depth)
        buffer = ctypes.create_string_buffer(data, len(data))
        image = x.XCreateImage(dpy, x.XDefaultVisual(dpy, screen), depth, 2, 0, buffer, width,
                               height, 32, width * 4)  # ZPixmap; the buffer stays ours
        x.XPutImage(dpy, pixmap, x.XDefaultGC(dpy, screen), image, 0, 0, 0, 0, width, height)
        x.XSetWindowBackgroundPixmap(dpy, root, pixmap)
        x.XClearWindow(dpy, root)
        x.XFreePixmap(dpy, pixmap)  # the root window keeps its own reference
        x.XSync(dpy, 0)
    finally:
        x.XCloseDisplay(dpy)


class Pointer:
    """The pointer through XTEST on one connection kept open: a click costs microseconds, not
    an xdotool process."""

    def __init__(self):
        import threading

        self.lock = threading.Lock()
        self.x = _xlib()
        self.t = ctypes.CDLL("libXtst.so.6")
        self.t.XTestFakeMotionEvent.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
                                                ctypes.c_int, ctypes.c_ulong]
        self.t.XTestFakeButtonEvent.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.c_int,
                                                ctypes.c_ulong]
        self.x.XQueryPointer.argtypes = [ctypes.c_void_p, ctypes.c_ulong] + \
            [ctypes.POINTER(ctypes.c_ulong)] * 2 + [ctypes.POINTER(ctypes.c_int)] * 4 + \
            [ctypes.POINTER(ctypes.c_uint)]
        self.x.XRootWindow.restype = ctypes.c_ulong
        self.x.XRootWindow.argtypes = [ctypes.c_void_p, ctypes.c_int]
        self.dpy = self.x.XOpenDisplay(DISPLAY.encode())

    def _open(self):
        if not self.dpy:  # a NULL display would crash the agent in XTEST
            self.dpy = self.x.XOpenDisplay(DISPLAY.encode())
            if not self.dpy:
                raise RuntimeError("the display is not open")

    def steps(self, steps):
        with self.lock:
            self._open()
            for step in steps:
                kind = step[0]
                if kind == "move":
                    self.t.XTestFakeMotionEvent(self.dpy, -1, int(step[1]), int(step[2]), 0)
                elif kind in ("down", "up"):
                    self.t.XTestFakeButtonEvent(self.dpy, int(step[1]), kind == "down", 0)
                elif kind == "sleep":
                    self.x.XSync(self.dpy, 0)
                    time.sleep(float(step[1]))
            self.x.XSync(self.dpy, 0)

    def position(self):
        with self.lock:
            self._open()
            root = self.x.XRootWindow(self.dpy, self.x.XDefaultScreen(self.dpy))
            w1, w2 = ctypes.c_ulong(), ctypes.c_ulong()
            rx, ry, wx, wy = (ctypes.c_int() for _ in range(4))
            mask = ctypes.c_uint()
            self.x.XQueryPointer(self.dpy, root, ctypes.byref(w1), ctypes.byref(w2),
                                 ctypes.byref(rx), ctypes.byref(ry), ctypes.byref(wx),
                                 ctypes.byref(wy), ctypes.byref(mask))
            return rx.value, ry.value


POINTER = []


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        # Requests one after another on one connection, until the host closes it.
        while True:
            line = self.rfile.readline()
            if not line:
                return
            try:
                request = json.loads(line)
                payload = self.rfile.read(request.get("size", 0)) if request.get("size") else b""
                answer = self.answer(request, payload)
            except Exception as exc:  # the host reads the reason
                answer = {"code": -1, "out": "", "err": f"{type(exc).__name__}: {exc}"}
            self.wfile.write(json.dumps(answer).encode() + b"\n")
            self.wfile.flush()

    def answer(self, request, payload):
        op = request["op"]
        if op == "ping":
            return {"code": 0, "out": "", "err": ""}
        if op == "run":
            done = subprocess.run(request["argv"], input=request.get("input", "").encode(),
                                  capture_output=True, env=_env(),
                                  timeout=request.get("timeout", 10))
            return {"code": done.returncode, "out": done.stdout.decode(errors="replace"),
                    "err": done.stderr.decode(errors="replace")[-2000:]}
        if op == "pointer":
            POINTER[0].steps(request["steps"])
            return {"code": 0, "out": "", "err": ""}
        if op == "cursor":
            x, y = POINTER[0].position()
            return {"code": 0, "out": f"{x} {y}", "err": ""}
        if op == "spawn":
            proc = subprocess.Popen(request["argv"], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    env=_env(), cwd=os.environ.get("HOME", "/"),
                                    start_new_session=True)
            return {"code": 0, "out": str(proc.pid), "err": ""}
        if op == "wallpaper":
            set_background(payload, request["width"], request["height"])
            return {"code": 0, "out": "", "err": ""}
        return {"code": -1, "out": "", "err": f"unknown op {op!r}"}


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    width, height = int(sys.argv[1]), int(sys.argv[2])
    started = time.monotonic()
    boot(width, height)
    POINTER.append(Pointer())
    with Server(("127.0.0.1", AGENT_PORT), Handler) as server:
        print(f"desktop up in {time.monotonic() - started:.3f}s", flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main()
