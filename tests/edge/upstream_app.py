"""The app the edge tests run inside a sandbox (standard library only: the sandbox sees the
system's Python, not the test's virtualenv). HTTP/1.1 with keep-alive:
- /headers: the request line and headers it received, as JSON;
- /upload: the length and SHA-256 of the body (Content-Length or chunked);
- /sse: three server-sent events, 0.3 s apart, each written as it happens;
- /count: how many requests this server has seen;
- /ws: a WebSocket that echoes each text message back;
- /bighdr, /double, /setcookie: misbehaviours (a 2 MB header, a second response nobody asked
  for, cookies for the edge's name and for every preview);
- anything else: NAME (argv[2]) and the path.
"""

import base64
import hashlib
import http.server
import json
import socketserver
import struct
import sys
import time

PORT, NAME = int(sys.argv[1]), sys.argv[2]
SEEN = [0]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, body, content_type="text/plain", status=200):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Powered-By", "upstream-framework")
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self):
        SEEN[0] += 1
        if self.path.startswith("/headers"):
            seen = {"request": self.requestline, "headers": [[k, v] for k, v in self.headers.items()]}
            return self.reply(json.dumps(seen).encode(), "application/json")
        if self.path == "/count":
            return self.reply(str(SEEN[0]).encode())
        if self.path == "/sse":
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            for n in range(3):
                self.wfile.write(f"data: {n} {time.time()}\n\n".encode())
                self.wfile.flush()
                time.sleep(0.3)
            self.close_connection = True
            return
        if self.path == "/ws" and self.headers.get("Upgrade", "").lower() == "websocket":
            return self.websocket()
        if self.path == "/bighdr":  # a head no proxy should hold in memory
            self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 2_000_000 +
                             b"\r\nContent-Length: 2\r\n\r\nok")
            return
        if self.path == "/double":  # a second, unasked-for response after the first
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst")
            self.wfile.flush()
            time.sleep(0.2)
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\npoisoned")
            return
        if self.path == "/setcookie":
            self.send_response(200)
            self.send_header("Set-Cookie", "__Host-preview_token=attacker; Path=/")
            self.send_header("Set-Cookie", "wide=1; Domain=sandbox.miosa.ai")
            self.send_header("Set-Cookie", "own=1; Path=/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.reply(f"{NAME} {self.path}".encode())

    def do_POST(self):
        SEEN[0] += 1
        data = self.body()
        self.reply(json.dumps({"length": len(data),
                               "sha256": hashlib.sha256(data).hexdigest()}).encode(),
                   "application/json")

    do_PUT = do_POST

    def websocket(self):
        accept = base64.b64encode(hashlib.sha1(
            (self.headers["Sec-WebSocket-Key"] + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()
        ).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        while True:
            head = self.rfile.read(2)
            if len(head) < 2:
                return
            opcode, length = head[0] & 0x0F, head[1] & 0x7F
            if length == 126:
                length = struct.unpack(">H", self.rfile.read(2))[0]
            elif length == 127:
                length = struct.unpack(">Q", self.rfile.read(8))[0]
            mask = self.rfile.read(4) if head[1] & 0x80 else b"\0\0\0\0"
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(length)))
            if opcode == 8:
                self.wfile.write(b"\x88\x02\x03\xe8")
                self.wfile.flush()
                return
            if opcode == 1:
                out = b"echo: " + payload
                size = bytes([len(out)]) if len(out) < 126 else b"\x7e" + struct.pack(">H", len(out))
                self.wfile.write(b"\x81" + size + out)
                self.wfile.flush()


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


Server(("0.0.0.0", PORT), Handler).serve_forever()
