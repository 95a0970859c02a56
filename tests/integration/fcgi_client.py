# SPDX-License-Identifier: Apache-2.0
"""A minimal FastCGI client, for talking to tokengate directly.

Web servers are tested for real elsewhere; this client exists for what no
web server will send: missing parameters, the RESPONDER and AUTHORIZER roles
side by side, several requests on one kept-alive connection.
"""
import socket
import struct

VERSION = 1
BEGIN_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT = 1, 3, 4, 5, 6
RESPONDER, AUTHORIZER = 1, 2
KEEP_CONN = 1


def _record(kind, request_id, content):
    return struct.pack("!BBHHBx", VERSION, kind, request_id, len(content), 0) + content


def _length(n):
    return bytes([n]) if n < 128 else struct.pack("!I", n | 0x80000000)


def _params(params):
    body = b""
    for name, value in params.items():
        name, value = name.encode(), value.encode()
        body += _length(len(name)) + _length(len(value)) + name + value
    return body


def connect(address):
    if isinstance(address, str):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.connect(address)
    return sock


def request(address, params, role=AUTHORIZER, sock=None, request_id=1):
    """Sends one request; returns (status, headers dict, body, raw stdout)."""
    own = sock is None
    if own:
        sock = connect(address)
    flags = 0 if own else KEEP_CONN
    data = _record(BEGIN_REQUEST, request_id, struct.pack("!HB5x", role, flags))
    body = _params(params)
    for start in range(0, len(body), 65535):
        data += _record(PARAMS, request_id, body[start:start + 65535])
    data += _record(PARAMS, request_id, b"")
    data += _record(STDIN, request_id, b"")
    sock.sendall(data)
    stdout = b""
    buffer = b""
    while True:
        while len(buffer) < 8:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed before END_REQUEST")
            buffer += chunk
        _, kind, _, length, padding = struct.unpack("!BBHHBx", buffer[:8])
        while len(buffer) < 8 + length + padding:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("truncated record")
            buffer += chunk
        content = buffer[8:8 + length]
        buffer = buffer[8 + length + padding:]
        if kind == STDOUT:
            stdout += content
        elif kind == END_REQUEST:
            break
    if own:
        sock.close()
    return parse(stdout)


def parse(stdout):
    text = stdout.decode()
    head, _, body = text.partition("\n\n")
    lines = head.split("\n")
    status = int(lines[0].split(":", 1)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(": ")
        headers[name] = value
    return status, headers, body, text
