#!/usr/bin/env python3
"""Cookie interoperability between `tower-session-auth` and the real Microdot framework.

Two Rust sides are checked, each against a Microdot app signing with the same secret.

The `hyper` example, a harness whose `POST /login` logs anyone in as any id, proves in both
directions:

  a. a `session` cookie written by the crate is read by Microdot's `Session` with exactly the
     same values (non-ASCII text, nested objects and arrays, floats, big and negative integers,
     booleans, null), and the crate still reads it after a Microdot app updated it;
  b. a `session` cookie written by Microdot (`SessionDict.save()`) is read by the crate with
     exactly the same values, and survives the crate rewriting the session;
  c. a Microdot login (`Login.login_user(..., remember=True)`) is honoured by the crate: the
     `session` cookie gives a fresh login, the `_remember` cookie alone restores a non-fresh one;
  d. a crate login (`POST /login?remember=30`) is honoured by Microdot's `@login` and
     `@login.fresh` routes, from the `session` cookie or from the `_remember` cookie alone;
  e. a logout on either side is seen as a logout on the other;
  f. tokens signed with another secret (or unsigned) are refused by both.

The `demo` example, the application as shipped: users with passwords and session auth hashes
(susan's id is `user001`), a login form, HTML pages behind a gate that redirects to `/login`, and
a `SessionLayer` with `claimless_sessions` and `adopt_untagged_logins` on. It proves:

  g. a Microdot login of `user001` is honoured by the demo: Microdot's `session` cookie alone
     shows susan's page (and `/fresh`), the demo tags the untagged login with `_auth_hash` in
     the session cookie it sends back, which both sides still accept; Microdot's `_remember`
     alone restores the login, not fresh (`/fresh` redirects to the login form);
  h. a login through the demo's own form (susan, remember me) is honoured by Microdot's `@login`
     and `@login.fresh` routes from the `session` cookie, and by `@login` from the `_remember`
     cookie alone, which Microdot reads despite its extra `auth_time` and `auth_hash` members;
  i. auth-hash revocation still works for the demo's logins: a session cookie (or `_remember`)
     re-signed with the shared secret but with another `_auth_hash` (`auth_hash`) is refused;
  j. a logout on either side, of a login made on either side, is seen as a logout on the other;
  k. the demo tracks its logins in a registry: Microdot reads and writes a tracked session (and
     keeps its `_sid`), the demo's logout revokes the copies Microdot wrote and the pre-logout
     `_remember`, and a Microdot login (no `_sid`) is adopted on first sight.

The `csrf_table` example prints the crate's CSRF decision table (method x `Sec-Fetch-Site` x
`Origin` x `Host` x the layer's options, one JSON object per row); the same rows go through
Microdot's CSRF extension (`allow_subdomains` for the crate's same-site option, a CORS list for
its trusted origin):

  l. Microdot agrees with the crate on every row except four documented differences, each of
     which occurs: Microdot answers 500 to `Origin: null` in subdomain mode, trusts subdomains of
     trusted origins there, compares trusted origins as strings, and refuses a post whose
     `Origin` is the server's own when `Sec-Fetch-Site` is missing (the crate lets it through).
     Rows with neither header pass in both (the crate's `TokenPolicy::Never`; its other
     policies require a token there).

Floats are compared bit for bit and `True`/`1`/`1.0` are told apart: "the same values" means
the same Python objects, not merely `==`. The crate stamps its session cookies with JWT time
claims (`iat`, `exp`) and `_`-prefixed anchors that it hides from the application; Microdot
shows them as ordinary keys, so application data is compared without them.

Run it from the repository root with any Python >= 3.11:

    python3 .ci/interop.py

It creates a throwaway virtualenv, installs the pinned `microdot` and `PyJWT` from PyPI into it
and runs itself again with that interpreter. The inner run takes the two examples in turn: it
builds one (`cargo build --example hyper`, then `--example demo`), starts it on a free loopback
port with a fixed test secret, runs its checks (Microdot through its in-process `TestClient`,
the example over loopback HTTP) and always stops the server. It prints one PASS/FAIL line per
check and ends with `interop: N passed, M failed`. The exit status is non-zero if anything
failed.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import re
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

MICRODOT = "microdot==2.7.0"
PYJWT = "PyJWT==2.15.1"

REPO = Path(__file__).resolve().parent.parent
INNER_ENV = "TSA_INTEROP_INNER"

# The secret is used as its UTF-8 bytes on both sides; the non-ASCII characters prove it.
SECRET = "interop-test-secret: ключ ✓ 0123456789abcdef"
OTHER_SECRET = "some-other-secret: not the one the server uses 0123"

PIP_TIMEOUT = 240
BUILD_TIMEOUT = 900
START_TIMEOUT = 20
HTTP_TIMEOUT = 10

# Every kind of JSON value a session might hold. Keys must not begin with `_` (crate keys).
SESSION_VALUES = {
    "text": "Zoë ✓ 日本",
    "astral": "emoji 😀 and 𝄞",
    "escapes": 'quote " backslash \\ slash / newline \n tab \t nul \x00 del \x7f',
    "html": "</script><b>&amp;",
    "empty": "",
    "ключ ✓": "non-ASCII key",
    "nested": {
        "list": [1, "two", 3.0, None, True, False, {"deep": ["x", [], {}]}],
        "obj": {"a": {"b": {"c": "d"}}},
        "empty_obj": {},
        "empty_list": [],
    },
    "array": [1, -2, 2.5, "ü", None, [True]],
    "float_half": 1.5,
    "float_neg": -0.25,
    "float_whole": 2.0,
    "float_neg_zero": -0.0,
    "float_sum": 0.1 + 0.2,
    "float_tiny": 5e-324,
    "float_small": 1e-7,
    "float_max": 1.7976931348623157e308,
    "float_big": 1e22,
    "int_2_53_plus_1": 2**53 + 1,
    "int_i64_max": 2**63 - 1,
    "int_u64_max": 2**64 - 1,
    "int_i64_min": -(2**63),
    "int_neg": -42,
    "int_zero": 0,
    "true": True,
    "false": False,
    "null": None,
}

# Floats that a parser which is not correctly rounded gets wrong by one unit in the last place
# (reported against serde_json's default float parser), then reproducible random ones.
KNOWN_HARD_FLOATS = [
    1.5777777777770001,
    117.63331139400017,
    122.41629403378658,
    10587.436593658975,
    0.9215686321258545,
    0.09144338512092887,
    0.9146155235219107,
    0.9849074220368985,
    0.9999999999999999,
    -4.4737164812014446e192,
    2.2250738585072014e-308,
]
# Microdot reads request lines of at most 2048 bytes (`Request.max_readline`), Cookie included.
FLOATS_PER_COOKIE = 40
RANDOM_FLOAT_BATCHES = 16

USER_ID = "user001"
INT_USER_ID = 42
KNOWN_USERS = {USER_ID, INT_USER_ID}

# The demo's users (`examples/demo/users.rs`): USER_ID is susan's id there.
DEMO_USER = ("susan", "hello")
DEMO_OTHER_USER = ("david", "bye")


# --------------------------------------------------------------------------------------------
# Outer run: a throwaway virtualenv with the pinned packages, then the inner run inside it.
# --------------------------------------------------------------------------------------------


def bootstrap() -> int:
    """Creates the virtualenv, installs the pins and re-runs this script with it."""
    started = time.monotonic()
    venv_dir = Path(tempfile.mkdtemp(prefix="tsa-interop-venv-"))
    try:
        print(f"interop: creating a virtualenv in {venv_dir}", flush=True)
        subprocess.run(
            [sys.executable, "-m", "venv", str(venv_dir)], check=True, timeout=120
        )
        python = venv_dir / "bin" / "python"
        print(f"interop: pip install {MICRODOT} {PYJWT}", flush=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--no-input",
             "--disable-pip-version-check", "--only-binary=:all:", MICRODOT, PYJWT],
            check=True,
            timeout=PIP_TIMEOUT,
        )
        print(f"interop: venv ready in {time.monotonic() - started:.1f}s", flush=True)
        env = dict(os.environ, **{INNER_ENV: "1", "PYTHONUTF8": "1"})
        # The inner run bounds every wait itself; this is only a backstop.
        inner = subprocess.run(
            [str(python), str(Path(__file__).resolve())],
            env=env,
            cwd=REPO,
            timeout=len(EXAMPLES) * BUILD_TIMEOUT + 300,
        )
        return inner.returncode
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as e:
        print(f"FAIL setup: {e}", flush=True)
        print("interop: 0 passed, 1 failed", flush=True)
        return 1
    finally:
        shutil.rmtree(venv_dir, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Small helpers: results, strict comparison, cookies.
# --------------------------------------------------------------------------------------------


class Results:
    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        if ok:
            self.passed += 1
            print(f"PASS {name}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL {name}", flush=True)
            for line in detail.splitlines():
                print(f"     {line}", flush=True)
        return ok

    def same(self, name: str, want, got) -> bool:
        diffs = differences(want, got)
        return self.check(name, not diffs, "\n".join(diffs[:12]))

    def note(self, text: str) -> None:
        print(f"NOTE {text}", flush=True)


def differences(want, got, path: str = "$") -> list[str]:
    """Where `got` is not exactly `want`: types must match (bool, int and float are distinct)
    and floats must be the same bits (so -0.0 is not 0.0)."""
    if type(want) is not type(got):
        return [f"{path}: expected {type(want).__name__} {want!r}, got {type(got).__name__} {got!r}"]
    if isinstance(want, dict):
        out = []
        for key in want.keys() - got.keys():
            out.append(f"{path}[{key!r}]: missing (expected {want[key]!r})")
        for key in got.keys() - want.keys():
            out.append(f"{path}[{key!r}]: unexpected {got[key]!r}")
        for key in want.keys() & got.keys():
            out.extend(differences(want[key], got[key], f"{path}[{key!r}]"))
        return out
    if isinstance(want, list):
        if len(want) != len(got):
            return [f"{path}: expected {len(want)} items, got {len(got)}: {got!r}"]
        out = []
        for i, (w, g) in enumerate(zip(want, got)):
            out.extend(differences(w, g, f"{path}[{i}]"))
        return out
    if isinstance(want, float):
        same = struct.pack("<d", want) == struct.pack("<d", got)
    else:
        same = want == got
    return [] if same else [f"{path}: expected {want!r}, got {got!r}"]


# JWT time claims. The crate stamps its session cookies with some of them (and with `_`-prefixed
# anchors) and hides them from the application; Microdot shows them as ordinary session keys.
JWT_TIME_CLAIMS = {"exp", "nbf", "iat"}


def is_metadata(key: str) -> bool:
    """A key that belongs to a framework rather than to the application."""
    return key.startswith("_") or key in JWT_TIME_CLAIMS


def public(session: dict) -> dict:
    """The application's part of a session: without framework keys and JWT time claims."""
    return {k: v for k, v in session.items() if not is_metadata(k)}


class SetCookie:
    """One parsed `Set-Cookie` header."""

    def __init__(self, header: str) -> None:
        first, *attributes = header.split(";")
        self.name, _, self.value = first.strip().partition("=")
        self.attributes: dict[str, str] = {}
        for attribute in attributes:
            key, _, value = attribute.strip().partition("=")
            self.attributes[key.lower()] = value

    @property
    def deletes(self) -> bool:
        max_age = self.attributes.get("max-age")
        if max_age is not None and int(max_age) <= 0:
            return True
        return "1970" in self.attributes.get("expires", "")


def apply_set_cookies(jar: dict[str, str], headers: list[str]) -> dict[str, str]:
    """What a browser's jar holds after a response (all cookies here have `Path=/`)."""
    jar = dict(jar)
    for header in headers:
        cookie = SetCookie(header)
        if cookie.deletes:
            jar.pop(cookie.name, None)
        else:
            jar[cookie.name] = cookie.value
    return jar


def random_floats(seed: int, count: int) -> list[float]:
    """Reproducible floats over the whole f64 range and in everyday ranges."""
    rng = random.Random(seed)
    out: list[float] = []
    while len(out) < count:
        kind = len(out) % 3
        if kind == 0:
            x = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
            if not math.isfinite(x):
                continue
        elif kind == 1:
            x = rng.uniform(-1.0, 1.0)
        else:
            x = rng.uniform(-1e6, 1e6)
        out.append(x)
    return out


def float_batches() -> list[list[float]]:
    batches = [KNOWN_HARD_FLOATS]
    for seed in range(RANDOM_FLOAT_BATCHES):
        batches.append(random_floats(seed, FLOATS_PER_COOKIE))
    return batches


# --------------------------------------------------------------------------------------------
# The crate's example server, over loopback HTTP.
# --------------------------------------------------------------------------------------------


def build_example(name: str) -> Path:
    """`cargo build --example NAME`, returning the executable cargo reports."""
    print(f"interop: cargo build --example {name}", flush=True)
    done = subprocess.run(
        ["cargo", "build", "--example", name, "--message-format=json-render-diagnostics"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        timeout=BUILD_TIMEOUT,
    )
    if done.returncode != 0:
        raise RuntimeError(f"cargo build failed with status {done.returncode}")
    for line in done.stdout.splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue
        target = message.get("target", {})
        if (message.get("reason") == "compiler-artifact" and target.get("name") == name
                and "example" in target.get("kind", []) and message.get("executable")):
            return Path(message["executable"])
    raise RuntimeError(f"cargo did not report the executable of the {name!r} example")


def read_line(stream, timeout: float) -> str:
    """The first line of a pipe, or an error after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    data = b""
    while b"\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no line within {timeout}s (got {data!r})")
        ready, _, _ = select.select([stream], [], [], left)
        if ready:
            chunk = os.read(stream.fileno(), 4096)
            if not chunk:
                raise RuntimeError(f"the server exited before printing its address (got {data!r})")
            data += chunk
    return data.split(b"\n", 1)[0].decode()


@contextlib.contextmanager
def running_example(executable: Path, secret: str):
    """Starts an example (`hyper` or `demo`: both read `DEMO_ADDR` and `SESSION_SECRET` and print
    `listening on http://HOST:PORT` first) on a free port; yields its host and port. The server
    is stopped, by its PID, when the block ends."""
    env = dict(os.environb)
    env[b"DEMO_ADDR"] = b"127.0.0.1:0"
    env[b"SESSION_SECRET"] = secret.encode("utf-8")
    with tempfile.TemporaryFile() as stderr:
        server = subprocess.Popen(
            [str(executable)], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=stderr
        )
        try:
            line = read_line(server.stdout, START_TIMEOUT)
            match = re.fullmatch(r"listening on http://([\d.]+):(\d+)", line.strip())
            if not match:
                raise RuntimeError(f"unexpected first line from the server: {line!r}")
            # Keep draining stdout so that the server can never block on a full pipe.
            threading.Thread(target=server.stdout.read, daemon=True).start()
            yield match.group(1), int(match.group(2))
        except BaseException:
            stderr.seek(0)
            tail = stderr.read()[-2000:].decode(errors="replace")
            if tail:
                print(f"interop: {executable.name} stderr:\n{tail}", flush=True)
            raise
        finally:
            server.terminate()
            try:
                server.wait(timeout=5)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=5)


class Reply:
    def __init__(self, status: int, body: bytes, set_cookies: list[str],
                 location: str | None = None) -> None:
        self.status = status
        self.location = location
        self.body = body
        self.text = body.decode("utf-8", errors="replace")
        self.set_cookies = set_cookies

    def json(self):
        return json.loads(self.body)

    def cookie(self, name: str) -> str:
        for header in self.set_cookies:
            cookie = SetCookie(header)
            if cookie.name == name and not cookie.deletes:
                return cookie.value
        raise AssertionError(f"the response sets no {name!r} cookie: {self.set_cookies!r}")

    def deletes(self, name: str) -> bool:
        return any(SetCookie(h).name == name and SetCookie(h).deletes for h in self.set_cookies)


class Crate:
    """A client for the example server that sends exactly the cookies it is given."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port

    def request(self, method: str, path: str, cookies: dict[str, str] | None = None,
                body=None, form: dict[str, str] | None = None,
                headers: dict[str, str] | None = None) -> Reply:
        """`body` is sent as JSON, `form` as `application/x-www-form-urlencoded`."""
        import http.client
        from urllib.parse import urlencode

        headers = dict(headers or {})
        if cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        elif form is not None:
            payload = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn = http.client.HTTPConnection(self.host, self.port, timeout=HTTP_TIMEOUT)
        try:
            conn.request(method, path, body=payload, headers=headers)
            response = conn.getresponse()
            return Reply(response.status, response.read(),
                         response.msg.get_all("Set-Cookie") or [], response.getheader("Location"))
        finally:
            conn.close()

    def session(self, cookies: dict[str, str]) -> dict:
        reply = self.request("GET", "/session", cookies)
        assert reply.status == 200, f"GET /session: {reply.status} {reply.text}"
        return reply.json()

    def whoami(self, cookies: dict[str, str]) -> dict:
        reply = self.request("GET", "/whoami", cookies)
        assert reply.status == 200, f"GET /whoami: {reply.status} {reply.text}"
        return reply.json()

    def login(self, user_id, remember_days: int) -> Reply:
        reply = self.request("POST", f"/login?user_id={user_id}&remember={remember_days}")
        assert reply.status == 200, f"POST /login: {reply.status} {reply.text}"
        return reply


class Demo(Crate):
    """A client for the `demo` example that behaves like a browser on the demo's own pages: it
    asks for HTML (so the login gate redirects rather than answering 401) and marks its form
    posts same-origin (the demo refuses cross-site login and logout posts)."""

    PAGE = {"Accept": "text/html"}
    SAME_ORIGIN_POST = {"Accept": "text/html", "Sec-Fetch-Site": "same-origin"}

    def page(self, path: str, cookies: dict[str, str] | None = None) -> Reply:
        return self.request("GET", path, cookies, headers=self.PAGE)

    def log_in(self, username: str, password: str, remember: bool = True,
               cookies: dict[str, str] | None = None) -> Reply:
        """The login form's `POST /login`; asserts that it succeeded (303 to `/`)."""
        form = {"username": username, "password": password}
        if remember:
            form["remember_me"] = "on"
        reply = self.request("POST", "/login", cookies, form=form, headers=self.SAME_ORIGIN_POST)
        assert reply.status == 303 and reply.location == "/", (
            f"demo POST /login as {username}: {reply.status}, Location {reply.location!r}, "
            f"Set-Cookie {reply.set_cookies!r}, body {reply.text[:300]!r}")
        return reply

    def log_out(self, cookies: dict[str, str]) -> Reply:
        reply = self.request("POST", "/logout", cookies, headers=self.SAME_ORIGIN_POST)
        assert reply.status == 303, f"demo POST /logout: {reply.status} {reply.text[:300]!r}"
        return reply


def greets(reply: Reply, name: str) -> bool:
    """The demo's gated pages (`/`, `/fresh`) answered with the user's greeting."""
    return reply.status == 200 and f"<h1>Hello, {name}!</h1>" in reply.text


def sent_to_login(reply: Reply) -> bool:
    """The demo's login gate turned a browser away to its login form."""
    return reply.status == 302 and (reply.location or "").startswith("/login?next=")


def shows(reply: Reply) -> str:
    body = reply.text if len(reply.text) <= 300 else reply.text[:300] + "..."
    return (f"status {reply.status}, Location {reply.location!r}, "
            f"Set-Cookie {reply.set_cookies!r}, body {body!r}")


def claims(token: str) -> dict:
    """The payload of a token signed with the shared secret (the signature is verified)."""
    import jwt

    return jwt.decode(token, SECRET, algorithms=["HS256"])


# --------------------------------------------------------------------------------------------
# The Microdot side: a real Microdot app driven through its TestClient.
# --------------------------------------------------------------------------------------------


class MicrodotSide:
    """A Microdot app with `Session` and `Login`, and what its handlers saw."""

    def __init__(self, secret: str) -> None:
        from microdot import Microdot, redirect
        from microdot.login import Login
        from microdot.session import Session, with_session

        self.app = app = Microdot()
        Session(app, secret_key=secret)
        self.login = login = Login()
        self.seen: dict = {}
        self.to_save: dict = {}

        class User:
            def __init__(self, user_id) -> None:
                self.id = user_id

        self.User = User

        async def load_user(user_id):
            self.seen["loaded_user_id"] = user_id
            return User(user_id) if user_id in KNOWN_USERS else None

        # `Login.user_loader` registers the function but returns None, so it is called here
        # rather than used as a decorator (which would leave `load_user` bound to None).
        login.user_loader(load_user)

        @app.get("/session")
        @with_session
        async def read_session(request, session):
            self.seen["session"] = dict(session)
            return "read"

        @app.post("/session")
        @with_session
        async def write_session(request, session):
            session.update(self.to_save)
            session.save()
            return "saved"

        @app.post("/login/<user_id>")
        async def do_login(request, user_id):
            user = User(int(user_id) if user_id.isdigit() else user_id)
            return await login.login_user(request, user, remember=True)

        @app.get("/private")
        @login
        async def private(request):
            return {"user_id": request.g.current_user.id}

        @app.get("/fresh")
        @login.fresh
        async def fresh(request):
            return {"user_id": request.g.current_user.id}

        @app.post("/logout")
        async def do_logout(request):
            await login.logout_user(request)
            return redirect("/")

    async def request(self, method: str, path: str, cookies: dict[str, str] | None = None):
        """Sends a request with exactly `cookies`; returns the response and the jar after it."""
        from microdot.test_client import TestClient

        client = TestClient(self.app, cookies=dict(cookies or {}))
        response = await client.request(method, path)
        return response, dict(client.cookies)

    async def read_session(self, cookies: dict[str, str]) -> dict:
        self.seen.pop("session", None)
        response, _ = await self.request("GET", "/session", cookies)
        assert response.status_code == 200, f"Microdot GET /session: {response.status_code}"
        return self.seen["session"]

    async def save_session(self, values: dict, cookies: dict[str, str] | None = None
                           ) -> dict[str, str]:
        """Adds `values` to the session in `cookies` (or a new one); returns the jar after."""
        self.to_save = values
        response, jar = await self.request("POST", "/session", cookies)
        assert response.status_code == 200, f"Microdot POST /session: {response.status_code}"
        return jar


def redirected_to_login(response) -> bool:
    return response.status_code == 302 and str(response.headers.get("Location", "")).startswith(
        "/login?next="
    )


def describe(response) -> str:
    return f"status {response.status_code}, Location {response.headers.get('Location')!r}, body {response.text!r}"


# --------------------------------------------------------------------------------------------
# The checks.
# --------------------------------------------------------------------------------------------


async def sessions_crate_to_microdot(r: Results, crate: Crate, md: MicrodotSide) -> None:
    reply = crate.request("POST", "/session", body=SESSION_VALUES)
    assert reply.status == 200, f"POST /session: {reply.status} {reply.text}"
    cookies = {"session": reply.cookie("session")}
    seen = await md.read_session(cookies)
    r.same("a1 crate -> Microdot: session values read exactly", SESSION_VALUES, public(seen))
    crate_view = crate.session(cookies)
    r.same("a2 crate -> Microdot: Microdot sees every key the crate sees; extras are metadata",
           crate_view, {k: v for k, v in seen.items() if k in crate_view or not is_metadata(k)})
    extras = sorted(seen.keys() - crate_view.keys())
    if extras:
        r.note(f"Microdot also sees the crate's cookie metadata as session keys: {extras}")

    # A Microdot app updating a crate session keeps the crate's claims; the crate accepts it.
    jar = await md.save_session({"from_microdot": "ü"}, cookies)
    r.same("a3 crate -> Microdot (updates, saves) -> crate: all values intact",
           dict(SESSION_VALUES, from_microdot="ü"), public(crate.session(jar)))

    lost = []
    for batch in float_batches():
        reply = crate.request("POST", "/session", body={"floats": batch})
        assert reply.status == 200, f"POST /session: {reply.status} {reply.text}"
        got = (await md.read_session({"session": reply.cookie("session")}))["floats"]
        lost += [f"sent {w!r}, Microdot read {g!r}" for w, g in zip(batch, got) if differences(w, g)]
    total = sum(map(len, float_batches()))
    r.check(f"a4 crate -> Microdot: {total} floats survive bit for bit", not lost,
            f"{len(lost)} of {total} changed, e.g.:\n" + "\n".join(lost[:8]))

    # Not a check: Microdot's own limit on request lines caps the cookies it can read.
    from microdot.microdot import Request

    reply = crate.request("POST", "/session", body={"padding": "x" * 1600})
    token = reply.cookie("session")
    try:
        await md.read_session({"session": token})
    except ValueError as e:
        r.note(f"Microdot cannot read a {len(token)}-byte session cookie from the crate "
               f"(Request.max_readline = {Request.max_readline}: {e}; its server answers 400)")


async def sessions_microdot_to_crate(r: Results, crate: Crate, md: MicrodotSide) -> None:
    jar = await md.save_session(SESSION_VALUES)
    r.same("b1 Microdot -> crate: session values read exactly", SESSION_VALUES,
           crate.session({"session": jar["session"]}))

    # The crate rewrites the session (one more key); Microdot must get its values back intact.
    reply = crate.request("POST", "/session", {"session": jar["session"]}, body={"touched": True})
    assert reply.status == 200, f"POST /session: {reply.status} {reply.text}"
    seen = await md.read_session({"session": reply.cookie("session")})
    r.same("b2 Microdot -> crate -> Microdot: values survive the crate rewriting the session",
           dict(SESSION_VALUES, touched=True), public(seen))

    lost = []
    for batch in float_batches():
        jar = await md.save_session({"floats": batch})
        got = crate.session({"session": jar["session"]})["floats"]
        lost += [f"Microdot wrote {w!r}, crate read {g!r}" for w, g in zip(batch, got)
                 if differences(w, g)]
    total = sum(map(len, float_batches()))
    r.check(f"b3 Microdot -> crate: {total} floats survive bit for bit", not lost,
            f"{len(lost)} of {total} changed, e.g.:\n" + "\n".join(lost[:8]))

    # Integers beyond 64 bits are valid JSON but outside what most JSON libraries keep exact.
    jar = await md.save_session({"huge": 2**64, "huge_neg": -(2**63) - 1})
    got = crate.session({"session": jar["session"]})
    if differences({"huge": 2**64, "huge_neg": -(2**63) - 1}, got):
        r.note(f"integers beyond 64 bits come back from the crate as {got!r} (not checked)")


async def logins_microdot_to_crate(r: Results, crate: Crate, md: MicrodotSide) -> None:
    response, jar = await md.request("POST", f"/login/{USER_ID}")
    assert response.status_code == 302, f"Microdot login: {describe(response)}"
    assert {"session", "_remember"} <= jar.keys(), f"Microdot login set {sorted(jar)}"
    session_only = {"session": jar["session"]}
    remember_only = {"_remember": jar["_remember"]}

    r.same("c1 Microdot login -> crate /whoami with Microdot's session: fresh login",
           {"user_id": USER_ID, "fresh": True}, crate.whoami(session_only))
    reply = crate.request("GET", "/private", session_only)
    r.check("c2 Microdot login -> crate /private with Microdot's session: 200",
            reply.status == 200 and reply.text == f'hello, "{USER_ID}"',
            f"got {reply.status} {reply.text!r}")

    reply = crate.request("GET", "/whoami", remember_only)
    r.same("c3 Microdot _remember alone -> crate /whoami: restored, not fresh",
           {"user_id": USER_ID, "fresh": False}, reply.json() if reply.status == 200 else reply.text)
    restored = apply_set_cookies(remember_only, reply.set_cookies)
    r.check("c4 crate restoring Microdot's _remember issues a session and renews _remember",
            "session" in restored and "_remember" in restored
            and restored["_remember"] != jar["_remember"],
            f"Set-Cookie: {reply.set_cookies!r}")
    reply = crate.request("GET", "/private", remember_only)
    r.check("c5 Microdot _remember alone -> crate /private: 200",
            reply.status == 200 and reply.text == f'hello, "{USER_ID}"',
            f"got {reply.status} {reply.text!r}")

    response, jar = await md.request("POST", f"/login/{INT_USER_ID}")
    r.same("c6 Microdot login with an integer id -> crate /whoami: same integer",
           {"user_id": INT_USER_ID, "fresh": True}, crate.whoami({"session": jar["session"]}))
    r.same("c7 Microdot _remember with an integer id -> crate /whoami: same integer",
           {"user_id": INT_USER_ID, "fresh": False},
           crate.whoami({"_remember": jar["_remember"]}))


async def logins_crate_to_microdot(r: Results, crate: Crate, md: MicrodotSide) -> None:
    reply = crate.login(USER_ID, 30)
    session_only = {"session": reply.cookie("session")}
    remember_only = {"_remember": reply.cookie("_remember")}

    md.seen.pop("loaded_user_id", None)
    response, _ = await md.request("GET", "/private", session_only)
    r.check("d1 crate login -> Microdot @login route with the crate's session: 200",
            response.status_code == 200 and response.json == {"user_id": USER_ID}
            and md.seen.get("loaded_user_id") == USER_ID,
            f"{describe(response)}, user_loader got {md.seen.get('loaded_user_id')!r}")

    response, jar = await md.request("GET", "/private", remember_only)
    r.check("d2 crate _remember alone -> Microdot @login route: 200 (restored)",
            response.status_code == 200 and response.json == {"user_id": USER_ID},
            describe(response))
    restored = await md.read_session(jar) if "session" in jar else {}
    r.same("d3 Microdot's restore from the crate's _remember: session not fresh",
           {"_user_id": USER_ID, "_fresh": False},
           {k: restored.get(k) for k in ("_user_id", "_fresh")})

    response, _ = await md.request("GET", "/fresh", session_only)
    r.check("d4 crate login -> Microdot @login.fresh route with the crate's session: 200",
            response.status_code == 200 and response.json == {"user_id": USER_ID},
            describe(response))

    # A login the crate restored from `_remember` is not fresh, for Microdot too.
    restore = crate.request("GET", "/whoami", remember_only)
    not_fresh = {"session": restore.cookie("session")}
    response, _ = await md.request("GET", "/fresh", not_fresh)
    r.check("d5 crate-restored (not fresh) session -> Microdot @login.fresh: redirect to login",
            redirected_to_login(response), describe(response))
    response, _ = await md.request("GET", "/private", not_fresh)
    r.check("d6 crate-restored (not fresh) session -> Microdot @login route: 200",
            response.status_code == 200 and response.json == {"user_id": USER_ID},
            describe(response))

    reply = crate.login(INT_USER_ID, 30)
    for number, name, cookies in [(7, "session", {"session": reply.cookie("session")}),
                                  (8, "_remember", {"_remember": reply.cookie("_remember")})]:
        md.seen.pop("loaded_user_id", None)
        response, _ = await md.request("GET", "/private", cookies)
        r.check(f"d{number} crate login with an integer id -> Microdot via {name}: user_loader gets int",
                response.status_code == 200 and response.json == {"user_id": INT_USER_ID}
                and differences(INT_USER_ID, md.seen.get("loaded_user_id")) == [],
                f"{describe(response)}, user_loader got {md.seen.get('loaded_user_id')!r}")


async def logouts(r: Results, crate: Crate, md: MicrodotSide) -> None:
    # The crate logs out a browser holding both cookies; Microdot then sees no login.
    login = crate.login(USER_ID, 30)
    jar = apply_set_cookies({}, login.set_cookies)
    logout = crate.request("POST", "/logout", jar)
    assert logout.status == 200, f"POST /logout: {logout.status} {logout.text}"
    jar = apply_set_cookies(jar, logout.set_cookies)
    r.check("e1 crate logout deletes _remember", "_remember" not in jar,
            f"Set-Cookie: {logout.set_cookies!r}")
    response, _ = await md.request("GET", "/private", jar)
    r.check("e2 crate logout -> Microdot @login route: redirect to login",
            redirected_to_login(response), f"{describe(response)}, cookies {sorted(jar)}")
    r.same("e3 crate logout -> crate /whoami: nobody",
           {"user_id": None, "fresh": False}, crate.whoami(jar))

    # Microdot logs out a browser holding both cookies; the crate then sees no login.
    response, jar = await md.request("POST", f"/login/{USER_ID}")
    response, jar = await md.request("POST", "/logout", jar)
    r.same("e4 Microdot logout -> crate /whoami: nobody",
           {"user_id": None, "fresh": False}, crate.whoami(jar))
    reply = crate.request("GET", "/private", jar)
    r.check("e5 Microdot logout -> crate /private: 401", reply.status == 401,
            f"got {reply.status} {reply.text!r}, cookies {sorted(jar)}")


async def foreign_tokens(r: Results, crate: Crate, md: MicrodotSide) -> None:
    import jwt

    payload = {"user": "mallory", "_user_id": USER_ID, "_fresh": True}
    r.same("f0 PyJWT token with the right secret -> crate reads it (control)",
           payload, crate.session({"session": jwt.encode(payload, SECRET, algorithm="HS256")}))
    forged = {"session": jwt.encode(payload, OTHER_SECRET, algorithm="HS256")}
    r.same("f1 PyJWT token signed with another secret -> crate /session: {}", {},
           crate.session(forged))
    r.same("f2 ... and crate /whoami: nobody", {"user_id": None, "fresh": False},
           crate.whoami(forged))
    unsigned = {"session": jwt.encode(payload, None, algorithm="none")}
    r.same("f3 PyJWT alg=none token -> crate /session: {}", {}, crate.session(unsigned))

    remember = {"user_id": USER_ID, "days": 30, "exp": time.time() + 3600}
    forged = {"_remember": jwt.encode(remember, OTHER_SECRET, algorithm="HS256")}
    r.same("f4 _remember signed with another secret -> crate /whoami: nobody",
           {"user_id": None, "fresh": False}, crate.whoami(forged))
    reply = crate.request("GET", "/private", forged)
    r.check("f5 _remember signed with another secret -> crate /private: 401",
            reply.status == 401, f"got {reply.status} {reply.text!r}")

    # And the other way: Microdot with another secret ignores the crate's cookies.
    stranger = MicrodotSide(OTHER_SECRET)
    login = crate.login(USER_ID, 30)
    response, _ = await stranger.request("GET", "/private", apply_set_cookies({}, login.set_cookies))
    r.check("f6 crate cookies -> Microdot with another secret: redirect to login",
            redirected_to_login(response), describe(response))


# The `demo` example: real users with session auth hashes, a password login form, HTML pages
# behind a login gate that redirects to `/login`, and a `SessionLayer` that accepts Microdot's
# sessions (no time anchors) and adopts its logins (no `_auth_hash` tag).


def set_claims(reply: Reply, name: str) -> dict:
    """The verified payload of the `name` cookie that `reply` sets, or {} when it sets none."""
    for header in reply.set_cookies:
        cookie = SetCookie(header)
        if cookie.name == name and not cookie.deletes:
            return claims(cookie.value)
    return {}


async def logins_microdot_to_demo(r: Results, demo: Demo, md: MicrodotSide) -> None:
    response, jar = await md.request("POST", f"/login/{USER_ID}")
    assert response.status_code == 302, f"Microdot login: {describe(response)}"
    assert {"session", "_remember"} <= jar.keys(), f"Microdot login set {sorted(jar)}"
    assert "_auth_hash" not in claims(jar["session"]), "Microdot's login is expected untagged"
    session_only = {"session": jar["session"]}
    remember_only = {"_remember": jar["_remember"]}

    reply = demo.page("/", session_only)
    r.check("g1 Microdot login -> demo / with Microdot's session alone: Hello, susan!",
            greets(reply, "susan"), shows(reply))
    adopted = set_claims(reply, "session")
    r.check("g2 demo adopts Microdot's untagged login: its new session cookie has _auth_hash, "
            "same user, still fresh",
            isinstance(adopted.get("_auth_hash"), str) and adopted.get("_user_id") == USER_ID
            and adopted.get("_fresh") is True, f"payload {adopted!r}; {shows(reply)}")

    # The tagged session goes on working on both sides.
    tagged = apply_set_cookies(session_only, reply.set_cookies)
    reply = demo.page("/", tagged)
    r.check("g3 demo's tagged session -> demo /: Hello, susan!", greets(reply, "susan"),
            shows(reply))
    response, _ = await md.request("GET", "/private", tagged)
    r.check("g4 demo's tagged session -> Microdot @login route: 200",
            response.status_code == 200 and response.json == {"user_id": USER_ID},
            describe(response))

    reply = demo.page("/fresh", session_only)
    r.check("g5 Microdot login -> demo /fresh with Microdot's session: fresh, Hello, susan!",
            greets(reply, "susan"), shows(reply))

    reply = demo.page("/", remember_only)
    r.check("g6 Microdot _remember alone -> demo /: restored, Hello, susan!",
            greets(reply, "susan"), shows(reply))
    session, remember = set_claims(reply, "session"), set_claims(reply, "_remember")
    r.check("g7 demo restoring Microdot's _remember: session not fresh and tagged, _remember "
            "re-issued with auth_hash",
            session.get("_user_id") == USER_ID and session.get("_fresh") is False
            and isinstance(session.get("_auth_hash"), str)
            and remember.get("user_id") == USER_ID and isinstance(remember.get("auth_hash"), str),
            f"session {session!r}, _remember {remember!r}; {shows(reply)}")

    reply = demo.page("/fresh", remember_only)
    r.check("g8 Microdot _remember alone -> demo /fresh: redirect to login (restored, not fresh)",
            sent_to_login(reply), shows(reply))


async def logins_demo_to_microdot(r: Results, demo: Demo, md: MicrodotSide) -> None:
    login = demo.log_in(*DEMO_USER)
    jar = apply_set_cookies({}, login.set_cookies)
    assert {"session", "_remember"} <= jar.keys(), f"demo login set {login.set_cookies!r}"
    session_only = {"session": jar["session"]}
    remember_only = {"_remember": jar["_remember"]}

    reply = demo.page("/", session_only)
    r.check("h1 demo login form -> demo / with its session: Hello, susan! (control)",
            greets(reply, "susan"), shows(reply))

    md.seen.pop("loaded_user_id", None)
    response, _ = await md.request("GET", "/private", session_only)
    r.check("h2 demo login -> Microdot @login route with the demo's session: 200",
            response.status_code == 200 and response.json == {"user_id": USER_ID}
            and md.seen.get("loaded_user_id") == USER_ID,
            f"{describe(response)}, user_loader got {md.seen.get('loaded_user_id')!r}")
    response, _ = await md.request("GET", "/fresh", session_only)
    r.check("h3 demo login -> Microdot @login.fresh route with the demo's session: 200",
            response.status_code == 200 and response.json == {"user_id": USER_ID},
            describe(response))

    remember = claims(jar["_remember"])
    r.check("h4 demo's _remember has Microdot's members plus auth_time and auth_hash",
            {"user_id", "days", "exp", "auth_time", "auth_hash"} <= remember.keys()
            and remember["user_id"] == USER_ID, f"payload {remember!r}")
    response, restored = await md.request("GET", "/private", remember_only)
    r.check("h5 demo _remember alone -> Microdot @login route: 200 (extra members ignored)",
            response.status_code == 200 and response.json == {"user_id": USER_ID},
            describe(response))
    seen = await md.read_session(restored) if "session" in restored else {}
    r.same("h6 Microdot's restore from the demo's _remember: session not fresh",
           {"_user_id": USER_ID, "_fresh": False},
           {k: seen.get(k) for k in ("_user_id", "_fresh")})


async def demo_auth_hash_revocation(r: Results, demo: Demo, md: MicrodotSide) -> None:
    import base64
    import jwt

    login = demo.log_in(*DEMO_USER)
    session, remember = claims(login.cookie("session")), claims(login.cookie("_remember"))
    assert isinstance(session.get("_auth_hash"), str), f"demo session untagged: {session!r}"
    # Another user's tag: valid under the shared key, but made from another password hash.
    other = claims(demo.log_in(*DEMO_OTHER_USER, remember=False).cookie("session"))["_auth_hash"]
    made_up = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
    assert other != session["_auth_hash"], "two users have the same auth-hash tag"

    def signed(payload: dict) -> str:
        return jwt.encode(payload, SECRET, algorithm="HS256")

    reply = demo.page("/", {"session": signed(session)})
    r.check("i1 demo session re-signed unchanged with PyJWT -> demo /: Hello, susan! (control)",
            greets(reply, "susan"), shows(reply))
    for number, label, tag in [(2, "david's tag", other), (3, "a made-up tag", made_up)]:
        reply = demo.page("/", {"session": signed(dict(session, _auth_hash=tag))})
        r.check(f"i{number} demo session re-signed with _auth_hash = {label} -> demo /: "
                "redirect to login", sent_to_login(reply), shows(reply))

    reply = demo.page("/", {"_remember": signed(remember)})
    r.check("i4 demo _remember re-signed unchanged -> demo /: Hello, susan! (control)",
            greets(reply, "susan"), shows(reply))
    reply = demo.page("/", {"_remember": signed(dict(remember, auth_hash=other))})
    r.check("i5 demo _remember re-signed with auth_hash = david's tag -> demo /: redirect to login",
            sent_to_login(reply), shows(reply))


async def logouts_with_demo(r: Results, demo: Demo, md: MicrodotSide) -> None:
    # Microdot logs in and out; the demo sees nobody with the cookies Microdot left.
    response, jar = await md.request("POST", f"/login/{USER_ID}")
    response, jar = await md.request("POST", "/logout", jar)
    reply = demo.page("/", jar)
    r.check("j1 Microdot login + logout -> demo / with Microdot's cookies: redirect to login",
            sent_to_login(reply), f"cookies {sorted(jar)}; {shows(reply)}")

    # The demo logs in, Microdot logs the same browser out; the demo sees nobody.
    jar = apply_set_cookies({}, demo.log_in(*DEMO_USER).set_cookies)
    response, jar = await md.request("POST", "/logout", jar)
    reply = demo.page("/", jar)
    r.check("j2 demo login + Microdot logout -> demo /: redirect to login",
            sent_to_login(reply), f"cookies {sorted(jar)}; {shows(reply)}")

    # The demo logs in and out; Microdot sees nobody.
    jar = apply_set_cookies({}, demo.log_in(*DEMO_USER).set_cookies)
    logout = demo.log_out(jar)
    jar = apply_set_cookies(jar, logout.set_cookies)
    r.check("j3 demo logout deletes _remember", "_remember" not in jar,
            f"Set-Cookie: {logout.set_cookies!r}")
    response, _ = await md.request("GET", "/private", jar)
    r.check("j4 demo login + logout -> Microdot @login route: redirect to login",
            redirected_to_login(response), f"{describe(response)}, cookies {sorted(jar)}")
    reply = demo.page("/", jar)
    r.check("j5 demo login + logout -> demo /: redirect to login (control)",
            sent_to_login(reply), shows(reply))

    # Microdot logs in, the demo logs the same browser out; Microdot sees nobody.
    response, jar = await md.request("POST", f"/login/{USER_ID}")
    logout = demo.log_out(jar)
    jar = apply_set_cookies(jar, logout.set_cookies)
    response, _ = await md.request("GET", "/private", jar)
    r.check("j6 Microdot login + demo logout -> Microdot @login route: redirect to login",
            redirected_to_login(response), f"{describe(response)}, cookies {sorted(jar)}")


async def tracked_sessions_with_demo(r: Results, demo: Demo, md: MicrodotSide) -> None:
    # The demo tracks its logins in a registry (its default): the session carries `_sid`, the
    # remember-me cookie `rid`, and Microdot keeps both when it writes the session.
    login = demo.log_in(*DEMO_USER)
    jar = apply_set_cookies({}, login.set_cookies)
    session, remember = claims(jar["session"]), claims(jar["_remember"])
    r.check("k1 demo login is tracked: session has _sid, _remember has rid",
            isinstance(session.get("_sid"), str) and isinstance(remember.get("rid"), str),
            f"session members {sorted(session)}, remember members {sorted(remember)}")
    written = await md.save_session({"note": "from Microdot"}, {"session": jar["session"]})
    seen = claims(written["session"])
    r.check("k2 Microdot writes the demo's tracked session and keeps _sid",
            seen.get("_sid") == session["_sid"] and seen.get("note") == "from Microdot",
            f"payload members {sorted(seen)}")
    reply = demo.page("/", {"session": written["session"]})
    r.check("k3 Microdot-written tracked session -> demo /: Hello, susan!",
            greets(reply, "susan"), shows(reply))
    demo.log_out(jar)
    reply = demo.page("/", {"session": written["session"]})
    r.check("k4 after the demo's logout, the Microdot-written copy -> demo /: redirect to login",
            sent_to_login(reply), shows(reply))
    reply = demo.page("/", {"_remember": jar["_remember"]})
    r.check("k5 after the demo's logout, its pre-logout _remember -> demo /: redirect to login",
            sent_to_login(reply), shows(reply))

    # A Microdot login has no `_sid`: the demo adopts it on first sight.
    response, md_jar = await md.request("POST", f"/login/{USER_ID}")
    reply = demo.page("/", {"session": md_jar["session"]})
    adopted = set_claims(reply, "session")
    r.check("k6 Microdot login -> demo /: Hello, susan!, and the demo's session adds _sid",
            greets(reply, "susan") and isinstance(adopted.get("_sid"), str), shows(reply))


SCENARIOS = [
    ("a. sessions, crate -> Microdot", sessions_crate_to_microdot),
    ("b. sessions, Microdot -> crate", sessions_microdot_to_crate),
    ("c. logins, Microdot -> crate", logins_microdot_to_crate),
    ("d. logins, crate -> Microdot", logins_crate_to_microdot),
    ("e. logouts", logouts),
    ("f. foreign tokens", foreign_tokens),
]

DEMO_SCENARIOS = [
    ("g. logins, Microdot -> demo", logins_microdot_to_demo),
    ("h. logins, demo -> Microdot", logins_demo_to_microdot),
    ("i. demo auth-hash revocation", demo_auth_hash_revocation),
    ("j. logouts, Microdot <-> demo", logouts_with_demo),
    ("k. tracked sessions, Microdot <-> demo", tracked_sessions_with_demo),
]

# Each example with its checks and its client.
EXAMPLES = [("hyper", SCENARIOS, Crate), ("demo", DEMO_SCENARIOS, Demo)]


# --------------------------------------------------------------------------------------------
# l. The CSRF decision table through Microdot's CSRF extension.
# --------------------------------------------------------------------------------------------


def csrf_canonical(origin):
    """An origin as the crate compares it: (scheme, lowercase host, port), or None."""
    if not origin or "://" not in origin:
        return None
    scheme, authority = origin.split("://", 1)
    scheme = scheme.lower()
    default = {"https": 443, "http": 80}.get(scheme)
    if default is None or not authority or "/" in authority or " " in authority:
        return None
    host, _, port = authority.partition(":")
    if port and not port.isdigit():
        return None
    return scheme, host.lower(), int(port) if port else default


def microdot_csrf_difference(row: dict):
    """Why Microdot's CSRF extension decides otherwise on this row, or None where it must agree
    with the crate. Microdot's `allow_subdomains` is the row's `same_site`, its CORS
    `allowed_origins` the row's trusted origin; it has no notion of this server's own origin,
    scheme or Host. A `token` row (neither header) passes in both, as the crate does under
    `TokenPolicy::Never`."""
    if row["method"] == "GET":
        return None
    site = row["sec_fetch_site"] or None
    origin = row["origin"] or None
    trusted = row["trusted"]
    passing_site = site in ("same-origin", "none") or (site == "same-site" and row["same_site"])
    if passing_site or origin is None:
        return None
    if origin == trusted:
        return None
    if trusted and row["same_site"] and "://" not in origin:
        return "Microdot answers 500 to an Origin without '://' (null) in subdomain mode"
    if trusted and row["same_site"] and origin.endswith("." + trusted.split("://", 1)[1]) \
            and origin.split("://", 1)[0] == trusted.split("://", 1)[0]:
        return "Microdot's subdomain mode trusts subdomains of trusted origins (the crate: exact origins)"
    if trusted and csrf_canonical(origin) is not None and csrf_canonical(origin) == csrf_canonical(trusted):
        return "the crate compares trusted origins by scheme, host and port, Microdot by string"
    if site is None and row["host"] and csrf_canonical(origin) is not None \
            and csrf_canonical(origin) == csrf_canonical(f"{row['scheme']}://{row['host']}"):
        return "the crate lets this server's own Origin through without Fetch Metadata; Microdot needs it listed in CORS"
    return None


def csrf_table(r: Results) -> None:
    """Runs the crate's CSRF decision table (`cargo run --example csrf_table`) through Microdot's
    CSRF extension and checks that every disagreement is a documented one, and that each
    documented one occurs."""
    import asyncio
    import logging

    from microdot import Microdot
    from microdot.cors import CORS
    from microdot.csrf import CSRF
    from microdot.test_client import TestClient

    executable = build_example("csrf_table")
    rows = [json.loads(line) for line in subprocess.run(
        [str(executable)], stdout=subprocess.PIPE, text=True, check=True, timeout=120,
    ).stdout.splitlines()]
    r.check(f"l1 CSRF table: {len(rows)} rows from the crate", len(rows) > 10000)

    clients = {}

    def client(same_site: bool, trusted):
        key = (same_site, trusted)
        if key not in clients:
            app = Microdot()
            cors = CORS(app, allowed_origins=[trusted]) if trusted else None
            CSRF(app, cors=cors, allow_subdomains=same_site)

            @app.route("/form", methods=["GET", "POST", "PUT", "DELETE"])
            async def form(request):
                return "ok"

            clients[key] = TestClient(app)
        return clients[key]

    async def microdot_status(row: dict) -> int:
        headers = {name: row[field] for name, field in
                   (("Sec-Fetch-Site", "sec_fetch_site"), ("Origin", "origin"))
                   if row[field] is not None}
        response = await client(row["same_site"], row["trusted"]).request(
            row["method"], "/form", headers=headers)
        return response.status_code

    async def run() -> tuple[dict, list]:
        seen, wrong, cache = {}, [], {}
        for row in rows:
            # Microdot reads neither Host nor a scheme: one request per remaining combination.
            key = (row["method"], row["sec_fetch_site"], row["origin"], row["same_site"], row["trusted"])
            if key not in cache:
                cache[key] = await microdot_status(row)
            status = cache[key]
            microdot_passes = status == 200
            crate_passes = row["crate"] in ("pass", "token")
            why = microdot_csrf_difference(row)
            if status not in (200, 403, 500):
                wrong.append(f"{row}: Microdot answered {status}")
            elif why is None and microdot_passes == crate_passes and status != 500:
                continue
            elif why is not None and (microdot_passes != crate_passes or status == 500):
                if (status == 500) == why.startswith("Microdot answers 500"):
                    seen[why] = seen.get(why, 0) + 1
                    continue
                wrong.append(f"{row}: Microdot {status}, documented {why!r}")
            else:
                wrong.append(f"{row}: crate {row['crate']}, Microdot {status}, documented {why!r}")
        return seen, wrong

    # Microdot logs the exceptions of its 500s; the table expects them.
    logging.disable(logging.CRITICAL)
    stderr, sys.stderr = sys.stderr, open(os.devnull, "w")
    try:
        seen, wrong = asyncio.run(asyncio.wait_for(run(), timeout=300))
    finally:
        sys.stderr.close()
        sys.stderr = stderr
        logging.disable(logging.NOTSET)
    r.check("l2 CSRF table: Microdot agrees with the crate except where documented",
            not wrong, "\n".join(wrong[:15]) + (f"\n... {len(wrong)} rows" if wrong else ""))
    for why, count in sorted(seen.items()):
        r.note(f"CSRF difference on {count} rows: {why}")
    r.check("l3 CSRF table: each of the 4 documented differences with Microdot occurs",
            len(seen) == 4, repr(seen))


async def run_checks(r: Results, scenarios, server: Crate) -> None:
    md = MicrodotSide(SECRET)
    for title, scenario in scenarios:
        print(f"-- {title}", flush=True)
        try:
            await scenario(r, server, md)
        except Exception as e:  # a broken step fails its scenario, the others still run
            r.check(f"{title}: completed without error", False,
                    f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}")


def inner() -> int:
    import asyncio
    from importlib.metadata import version

    started = time.monotonic()
    r = Results()
    try:
        pins = {"microdot": version("microdot"), "PyJWT": version("PyJWT")}
        r.check(f"setup: using microdot {pins['microdot']} and PyJWT {pins['PyJWT']}",
                f"microdot=={pins['microdot']}" == MICRODOT and f"PyJWT=={pins['PyJWT']}" == PYJWT)
    except Exception as e:
        r.check("setup", False, f"{type(e).__name__}: {e}")
    # One example at a time (one cargo build at a time); a failure with one still runs the other.
    for name, scenarios, client in EXAMPLES:
        try:
            began = time.monotonic()
            executable = build_example(name)
            built = time.monotonic()
            print(f"interop: built {name} in {built - began:.1f}s", flush=True)
            with running_example(executable, SECRET) as (host, port):
                print(f"interop: {name} example listening on {host}:{port}", flush=True)
                asyncio.run(asyncio.wait_for(run_checks(r, scenarios, client(host, port)),
                                             timeout=120))
            print(f"interop: {name} checks took {time.monotonic() - built:.1f}s", flush=True)
        except Exception as e:
            r.check(f"setup: {name} example", False, f"{type(e).__name__}: {e}")
    try:
        began = time.monotonic()
        csrf_table(r)
        print(f"interop: CSRF table took {time.monotonic() - began:.1f}s", flush=True)
    except Exception as e:
        r.check("l0 CSRF table: completed without error", False,
                f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}")
    print(f"interop: done in {time.monotonic() - started:.1f}s", flush=True)
    print(f"interop: {r.passed} passed, {r.failed} failed", flush=True)
    return 1 if r.failed else 0


if __name__ == "__main__":
    sys.stdout.reconfigure(errors="backslashreplace")
    if os.environ.get(INNER_ENV) == "1" and sys.prefix != sys.base_prefix:
        sys.exit(inner())
    sys.exit(bootstrap())
