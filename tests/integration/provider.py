# SPDX-License-Identifier: Apache-2.0
"""A small auth provider on 127.0.0.1 for the key-fetch tests.

It speaks HTTPS with a certificate from its own CA (tokengate is given the CA
with ca_file, as an administrator with a private CA would), and serves what
real providers serve:

  /api/v1/token_verification_metadata   PropelAuth's verifier key, only with
                                        the right API key and X-Propelauth-url
  /.well-known/openid-configuration     OIDC discovery
  /jwks                                 the JWK set
  /api/backend/v1/end_user_api_keys/validate
                                        PropelAuth's API-key validation (POST),
                                        answering from api_keys, only with the
                                        right API key and X-Propelauth-url

The tests steer it: rotate keys, answer a status (401/404/429/500), hang,
return garbage, delay. It counts what it served, per path.
"""
import datetime
import http.server
import ipaddress
import json
import os
import ssl
import threading
import time

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

METADATA_PATH = "/api/v1/token_verification_metadata"
DISCOVERY_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/jwks"
VALIDATE_PATH = "/api/backend/v1/end_user_api_keys/validate"


def _certificate(subject_key, subject, issuer_key, issuer, ca, sans=()):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
               .public_key(subject_key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def make_ca(directory):
    """Writes ca.pem, and server.pem + server.key for 127.0.0.1/localhost.
    Returns (ca_path, cert_path, key_path)."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _certificate(ca_key, "tokengate test CA", ca_key, "tokengate test CA", True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = _certificate(server_key, "127.0.0.1", ca_key, "tokengate test CA", False,
                               [x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                x509.DNSName("localhost")])
    paths = [os.path.join(directory, name) for name in ("ca.pem", "server.pem", "server.key")]
    with open(paths[0], "wb") as out:
        out.write(ca_cert.public_bytes(serialization.Encoding.PEM))
    with open(paths[1], "wb") as out:
        out.write(server_cert.public_bytes(serialization.Encoding.PEM))
    with open(paths[2], "wb") as out:
        out.write(server_key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    os.chmod(paths[0], 0o644)
    return paths


class SigningKey:
    def __init__(self, kid, algorithm="RS256"):
        self.kid = kid
        self.algorithm = algorithm
        if algorithm.startswith("ES"):
            self.private = ec.generate_private_key(ec.SECP256R1())
        else:
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self):
        if self.algorithm.startswith("ES"):
            text = jwt.algorithms.ECAlgorithm.to_jwk(self.private.public_key())
        else:
            text = jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key())
        return dict(json.loads(text), kid=self.kid, use="sig", alg=self.algorithm)

    def public_pem(self):
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def sign(self, claims, ttl=3600):
        now = int(time.time())
        claims = dict({"iat": now, "exp": now + ttl}, **claims)
        return jwt.encode(claims, self.private, algorithm=self.algorithm,
                          headers={"kid": self.kid})


class Provider:
    """The provider's state; the HTTP handler reads it under LOCK."""

    def __init__(self, directory, api_key="test-api-key-0123456789abcdef",
                 auth_authority="auth.example.com"):
        self.ca_file, cert, key = make_ca(directory)
        self.api_key = api_key
        self.auth_authority = auth_authority
        self.lock = threading.Lock()
        self.keys = [SigningKey("k-1")]
        self.answer = {}          # path -> "ok" | int status | "hang" | "garbage"
        self.delay = 0.0          # seconds before answering a key request
        self.retry_after = None   # sent with 429/503
        self.max_age = None       # Cache-Control max-age on key answers
        self.extra_jwks = []      # raw JWKs served beside the signing keys
        self.api_keys = {}        # end-user API key -> the validation's 200 body
        self.wait_seconds = 3     # in a 429's body from the validate endpoint
        self.validate_delay = 0.0
        self.counts = {}
        self.seen_headers = []
        self.release = threading.Event()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        handler = self._handler()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.url = "https://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    # ---- what the tests use -------------------------------------------------

    def count(self, path):
        with self.lock:
            return self.counts.get(path, 0)

    def set_answer(self, path, answer):
        with self.lock:
            if answer == "ok":
                self.answer.pop(path, None)
            else:
                self.answer[path] = answer
            if answer == "hang":
                self.release.clear()

    def rotate(self, kid, keep_old=False, algorithm="RS256"):
        """A new signing key first; the old ones stay only with KEEP_OLD."""
        key = SigningKey(kid, algorithm)
        with self.lock:
            self.keys = [key] + (self.keys if keep_old else [])
        return key

    @property
    def current(self):
        with self.lock:
            return self.keys[0]

    def validations(self):
        return self.count(VALIDATE_PATH)

    def stop(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    # ---- the HTTP side ------------------------------------------------------

    def _document(self, path):
        with self.lock:
            if path == METADATA_PATH:
                return {"verifier_key_pem": self.keys[0].public_pem()}
            if path == DISCOVERY_PATH:
                return {"issuer": self.url, "jwks_uri": self.url + JWKS_PATH,
                        "id_token_signing_alg_values_supported": ["RS256"]}
            return {"keys": [key.jwk() for key in self.keys] + list(self.extra_jwks)}

    def _handler(self):
        provider = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _send(self, status, body, extra=()):
                data = body.encode() if isinstance(body, str) else body
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in extra:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def _count(self, path):
                """Counts the request; returns its steered answer. The
                provider's lock is held by the caller."""
                provider.counts[path] = provider.counts.get(path, 0) + 1
                provider.seen_headers.append((path, dict(self.headers.items())))
                return provider.answer.get(path, "ok")

            def _steered(self, answer, delay):
                """Hangs, waits, or answers garbage as told: True when it
                answered."""
                if answer == "hang":
                    provider.release.wait(60)
                    self._send(500, '{"error": "released"}')
                    return True
                if delay:
                    time.sleep(delay)
                if answer == "garbage":
                    self._send(200, "<html>this is not JSON</html>")
                    return True
                return False

            def do_GET(self):
                path = self.path.split("?")[0]
                if path.endswith(DISCOVERY_PATH):   # whatever issuer was configured
                    path = DISCOVERY_PATH
                with provider.lock:
                    answer = self._count(path)
                    delay, retry_after, max_age = (provider.delay, provider.retry_after,
                                                   provider.max_age)
                if path not in (METADATA_PATH, DISCOVERY_PATH, JWKS_PATH):
                    return self._send(404, '{"error": "not found"}')
                if isinstance(answer, int):
                    extra = [("Retry-After", str(retry_after))] if retry_after else []
                    return self._send(answer, '{"error": "as told"}', extra)
                if self._steered(answer, delay):
                    return
                if path == METADATA_PATH:
                    if self.headers.get("Authorization") != "Bearer " + provider.api_key:
                        return self._send(401, '{"error": "unauthorized"}')
                    if self.headers.get("X-Propelauth-url") != provider.auth_authority:
                        return self._send(404, '{"error": "unknown auth url"}')
                extra = [("Cache-Control", "public, max-age=%d" % max_age)] if max_age else []
                self._send(200, json.dumps(provider._document(path)), extra)

            def do_POST(self):
                path = self.path.split("?")[0]
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with provider.lock:
                    answer = self._count(path)
                    delay, retry_after = provider.validate_delay, provider.retry_after
                    wait_seconds = provider.wait_seconds
                    keys = dict(provider.api_keys)
                if path != VALIDATE_PATH:
                    return self._send(404, '{"error": "not found"}')
                if self._steered(answer, delay):
                    return
                if answer == 429:
                    extra = [("Retry-After", str(retry_after))] if retry_after else []
                    return self._send(429, json.dumps({"wait_seconds": wait_seconds,
                                                       "error": "rate limited"}), extra)
                if isinstance(answer, int):
                    return self._send(answer, '{"error": "as told"}')
                if self.headers.get("Authorization") != "Bearer " + provider.api_key:
                    return self._send(401, '{"error": "unauthorized"}')
                if self.headers.get("X-Propelauth-url") != provider.auth_authority:
                    return self._send(404, '{"error": "unknown auth url"}')
                if self.headers.get("Content-Type") != "application/json":
                    return self._send(400, '{"error": "not json"}')
                try:
                    key = json.loads(body)["api_key_token"]
                except (ValueError, KeyError, TypeError):
                    return self._send(400, '{"api_key_token": ["missing"]}')
                if key not in keys:
                    return self._send(404, '{"error": "api key not found"}')
                self._send(200, json.dumps(keys[key]))

        return Handler
