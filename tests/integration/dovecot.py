"""A throwaway Dovecot on 127.0.0.1 for the tests: its own config, users, mail and logs.

Debian's dovecot-imapd runs in the foreground (`dovecot -F -c <tmp>/dovecot.conf`). Each user has
its own passwd-file, so a test can add users while Dovecot runs. Mail is Maildir
under the temporary folder. XOAUTH2 is checked by Dovecot's oauth2 passdb, which POSTs each token
to a small introspection endpoint this module serves on loopback. A self-signed certificate makes
implicit TLS (imaps) and STARTTLS available too.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from imapclient import IMAPClient

DOVECOT = Path(os.environ.get("COMPLAINTD_DOVECOT", "/usr/sbin/dovecot"))
HOST = "127.0.0.1"
# The capabilities Dovecot 2.3 announces after login, without IDLE.
NO_IDLE = (
    "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE SORT SORT=DISPLAY THREAD=REFERENCES "
    "THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN "
    "NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES "
    "WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE LITERAL+"
)


def available() -> str | None:
    """None when Dovecot can be run here; otherwise why not."""
    if not DOVECOT.exists():
        return f"{DOVECOT} not found (apt-get install dovecot-imapd)"
    if shutil.which("openssl") is None:
        return "openssl not found"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class Introspection:
    """An OAuth2 token introspection endpoint (RFC 7662 style) that knows a few tokens."""

    def __init__(self) -> None:
        self.tokens: dict[str, str] = {}  # token -> user name
        self.requests = 0
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = parse_qs(self.rfile.read(length).decode("ascii", "replace"))
                token = (form.get("token") or [""])[0]
                with outer._lock:
                    outer.requests += 1
                    user = outer.tokens.get(token)
                answer = {"active": True, "username": user} if user else {"active": False}
                body = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((HOST, 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://{HOST}:{self._server.server_address[1]}/introspect"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> Introspection:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def grant(self, user: str) -> str:
        """A new token that logs `user` in."""
        token = "tok-" + secrets.token_urlsafe(24)
        with self._lock:
            self.tokens[token] = user
        return token

    def revoke(self, token: str) -> None:
        with self._lock:
            self.tokens.pop(token, None)


@dataclass(frozen=True)
class Account:
    user: str
    password: str


class Dovecot:
    """One Dovecot instance. start() / stop() / restart() keep the port, users and mail."""

    def __init__(self, root: Path | None = None, *, idle: bool = True) -> None:
        self.root = root or Path(tempfile.mkdtemp(prefix="complaintd-dovecot-"))
        self._owns_root = root is None
        # Dovecot's unprivileged processes must reach their files through this folder.
        self.root.chmod(0o755)
        self.idle = idle
        self.host = HOST
        self.port = free_port()  # plain IMAP; STARTTLS offered
        self.tls_port = free_port()  # implicit TLS (imaps)
        self.ca_file = self.root / "cert.pem"
        self.log_file = self.root / "dovecot.log"
        self.users_dir = self.root / "users"
        self.mail_root = self.root / "mail"
        self.introspection = Introspection()
        self._proc: subprocess.Popen[bytes] | None = None
        self._mail_uid, self._mail_gid = _mail_owner()
        self._prepare()

    # --- lifecycle -----------------------------------------------------------------------

    def start(self, timeout: float = 15.0) -> Dovecot:
        if not self.introspection._thread.is_alive():
            self.introspection.start()
        self._proc = subprocess.Popen(
            [str(DOVECOT), "-F", "-c", str(self.root / "dovecot.conf")],
            stdout=subprocess.DEVNULL,
            stderr=open(self.root / "master.err", "ab"),  # noqa: SIM115
            start_new_session=True,  # its own process group, so stop() can end every child
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"dovecot exited {self._proc.returncode}:\n{self.log()}")
            if _greets(self.host, self.port):
                return self
            time.sleep(0.05)
        raise RuntimeError(
            f"dovecot did not answer on {self.port} within {timeout}s:\n{self.log()}"
        )

    def stop(self, timeout: float = 15.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        # The whole process group: imap processes would outlive the master for a while, and a
        # server that is down serves nobody. Each says BYE to its client on SIGTERM.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        deadline = time.monotonic() + timeout
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            while _group_alive(proc.pid) and time.monotonic() < deadline:
                time.sleep(0.02)
            if not _group_alive(proc.pid):
                break
            deadline = time.monotonic() + timeout
        while (self.root / "run" / "master.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.05)

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def close(self) -> None:
        self.stop()
        self.introspection.stop()
        if self._owns_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        parts = []
        for name in ("master.err", "dovecot.log"):
            path = self.root / name
            if path.exists():
                parts.append(path.read_text(errors="replace"))
        return "".join(parts)

    # --- users and mail ------------------------------------------------------------------

    def add_user(self, name: str | None = None, password: str | None = None) -> Account:
        """A new user with an empty mailbox; Dovecot sees it at the next login."""
        account = Account(name or f"u{uuid.uuid4().hex[:12]}", password or secrets.token_hex(8))
        # One file per user: Dovecot may not notice a shared file growing within the second.
        (self.users_dir / account.user).write_text(
            f"{account.user}:{{PLAIN}}{account.password}::::::\n", encoding="utf-8"
        )
        return account

    def mailbox(self, account: Account | None = None) -> Mailbox:
        return Mailbox(self, account or self.add_user())

    @contextmanager
    def client(self, account: Account) -> Iterator[IMAPClient]:
        """A logged-in plain IMAP connection, logged out afterwards."""
        client = IMAPClient(self.host, self.port, ssl=False, timeout=10)
        try:
            client.login(account.user, account.password)
            yield client
        finally:
            try:
                client.logout()
            except Exception:  # noqa: BLE001 (the server may be gone: the point of some tests)
                client.shutdown()

    def maildir(self, account: Account) -> Path:
        return self.mail_root / account.user

    # --- configuration -------------------------------------------------------------------

    def _prepare(self) -> None:
        for sub in ("run", "state", "mail", "home", "users"):
            (self.root / sub).mkdir(exist_ok=True)
        for sub in ("mail", "home"):
            os.chown(self.root / sub, self._mail_uid, self._mail_gid)
        _self_signed(self.root)
        (self.root / "oauth2.conf").write_text(
            "introspection_mode = post\n"
            f"introspection_url = {self.introspection.url}\n"
            "username_attribute = username\n"
            "active_attribute = active\n"
            "active_value = true\n"
            "force_introspection = yes\n"
        )
        (self.root / "dovecot.conf").write_text(self._config())

    def _config(self) -> str:
        me = pwd.getpwuid(os.getuid()).pw_name
        root_only = os.getuid() == 0
        login_user = "dovenull" if root_only else me
        internal_user = "dovecot" if root_only else me
        capability = "" if self.idle else f"protocol imap {{\n  imap_capability = {NO_IDLE}\n}}\n"
        r = self.root
        return f"""\
protocols = imap
listen = {HOST}
base_dir = {r}/run
state_dir = {r}/state
instance_name = complaintd-test-{self.port}
log_path = {r}/dovecot.log
info_log_path = {r}/dovecot.log
default_login_user = {login_user}
default_internal_user = {internal_user}
first_valid_uid = 1
first_valid_gid = 1
mail_uid = {self._mail_uid}
mail_gid = {self._mail_gid}
mail_location = maildir:{r}/mail/%u
# Throwaway mail: no fsync, which makes APPEND many times faster.
mail_fsync = never
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2 oauthbearer
# Tests log in with wrong passwords on purpose: no failure delay, and no per-IP penalty that
# would slow every other test's logins from 127.0.0.1.
auth_failure_delay = 0
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
ssl = yes
ssl_cert = <{r}/cert.pem
ssl_key = <{r}/key.pem
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {r}/oauth2.conf
}}
passdb {{
  driver = passwd-file
  mechanisms = plain login
  args = scheme=PLAIN username_format=%u {r}/users/%u
}}
userdb {{
  driver = static
  args = uid={self._mail_uid} gid={self._mail_gid} home={r}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = {HOST}
    port = {self.port}
  }}
  inet_listener imaps {{
    address = {HOST}
    port = {self.tls_port}
  }}
}}
{capability}"""


class Mailbox:
    """One user's mail as a mail client sees it: plant, list, count, delete, recreate."""

    def __init__(self, server: Dovecot, account: Account) -> None:
        self.server = server
        self.account = account

    @property
    def user(self) -> str:
        return self.account.user

    @property
    def password(self) -> str:
        return self.account.password

    def append(self, data: bytes, folder: str = "INBOX", *, seen: bool = False) -> int:
        """APPEND one message; returns its UID."""
        with self.server.client(self.account) as c:
            if not c.folder_exists(folder):
                c.create_folder(folder)
            response = c.append(folder, data, flags=(b"\\Seen",) if seen else ())
        return _appended_uid(response)

    def append_many(
        self, messages: Iterable[bytes], folder: str = "INBOX", batch: int = 500
    ) -> int:
        """MULTIAPPEND in batches (one round trip each); returns how many were appended."""
        count = 0
        chunk: list[bytes] = []
        with self.server.client(self.account) as c:
            if not c.folder_exists(folder):
                c.create_folder(folder)
            for data in messages:
                chunk.append(data)
                if len(chunk) == batch:
                    c.multiappend(folder, chunk)
                    count += len(chunk)
                    chunk = []
            if chunk:
                c.multiappend(folder, chunk)
                count += len(chunk)
        return count

    def _maildir_folder(self, folder: str) -> Path:
        """The folder's Maildir on disk, created and owned by the mail user."""
        base = self.server.maildir(self.account)
        if folder != "INBOX":
            base = base / f".{folder}"
        for sub in ("", "tmp", "new", "cur"):
            path = base / sub
            path.mkdir(exist_ok=True)
            os.chown(path, self.server._mail_uid, self.server._mail_gid)
        return base

    def deliver_to_maildir(self, data: bytes, folder: str = "INBOX") -> Path:
        """Drop a message into the Maildir as a local delivery agent would, server up or down."""
        base = self._maildir_folder(folder)
        name = f"{time.time_ns()}.M{uuid.uuid4().hex[:8]}.test"
        tmp = base / "tmp" / name
        tmp.write_bytes(data)
        os.chown(tmp, self.server._mail_uid, self.server._mail_gid)
        final = base / "new" / name
        os.rename(tmp, final)
        return final

    def deliver_many_to_maildir(self, messages: Iterable[bytes], folder: str = "INBOX") -> int:
        """deliver_to_maildir for a whole backlog at once: tens of thousands of messages in a
        second or two, where APPEND would take minutes. Returns how many were written."""
        base = self._maildir_folder(folder)
        owned = os.getuid() == self.server._mail_uid
        prefix = f"{time.time_ns()}.M{uuid.uuid4().hex[:8]}"
        count = 0
        for count, data in enumerate(messages, 1):
            # Zero-padded, so Dovecot's UIDs follow the order the messages were given in.
            path = base / "new" / f"{prefix}_{count:07d}.test"
            path.write_bytes(data)
            if not owned:
                os.chown(path, self.server._mail_uid, self.server._mail_gid)
        return count

    def folders(self) -> list[str]:
        with self.server.client(self.account) as c:
            return sorted(str(name) for _, _, name in c.list_folders())

    def count(self, folder: str = "INBOX") -> int:
        with self.server.client(self.account) as c:
            if not c.folder_exists(folder):
                return 0
            return int(c.folder_status(folder, [b"MESSAGES"])[b"MESSAGES"])

    def messages(self, folder: str = "INBOX") -> list[bytes]:
        """Every message's bytes, in UID order, read without setting \\Seen."""
        with self.server.client(self.account) as c:
            if not c.folder_exists(folder):
                return []
            c.select_folder(folder, readonly=True)
            uids = c.search("ALL")
            fetched = c.fetch(uids, ["BODY.PEEK[]"]) if uids else {}
            return [fetched[uid][b"BODY[]"] for uid in sorted(fetched)]

    def flags(self, folder: str = "INBOX") -> list[tuple[bytes, ...]]:
        with self.server.client(self.account) as c:
            c.select_folder(folder, readonly=True)
            uids = c.search("ALL")
            fetched = c.get_flags(uids) if uids else {}
            return [tuple(fetched[uid]) for uid in sorted(fetched)]

    def uidvalidity(self, folder: str = "INBOX") -> int:
        with self.server.client(self.account) as c:
            return int(c.folder_status(folder, [b"UIDVALIDITY"])[b"UIDVALIDITY"])

    def create_folder(self, folder: str) -> None:
        with self.server.client(self.account) as c:
            c.create_folder(folder)

    def delete_folder(self, folder: str) -> None:
        with self.server.client(self.account) as c:
            c.delete_folder(folder)

    def recreate_folder(self, folder: str) -> list[bytes]:
        """Delete the folder and create it again with the same mail: a new UIDVALIDITY."""
        kept = self.messages(folder)
        before = self.uidvalidity(folder)
        self.delete_folder(folder)
        # Dovecot derives UIDVALIDITY from the clock; make sure the new one differs.
        while int(time.time()) <= before:
            time.sleep(0.05)
        self.create_folder(folder)
        if kept:
            self.append_many(kept, folder)
        return kept


def _appended_uid(response: bytes) -> int:
    # "[APPENDUID <uidvalidity> <uid>] Append completed." (UIDPLUS)
    text = response.decode("ascii", "replace")
    if "APPENDUID" in text:
        return int(text.split("APPENDUID", 1)[1].split("]", 1)[0].split()[1])
    return 0


def _mail_owner() -> tuple[int, int]:
    """Dovecot refuses to run mail processes as root: use nobody when the tests run as root."""
    if os.getuid() != 0:
        return os.getuid(), os.getgid()
    nobody = pwd.getpwnam("nobody")
    return nobody.pw_uid, nobody.pw_gid


def _group_alive(pgid: int) -> bool:
    """Whether any process of the group is still running (zombies do not count)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _greets(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1) as s:
            return s.recv(64).startswith(b"* OK")
    except OSError:
        return False


def _self_signed(folder: Path) -> None:
    """A certificate for 127.0.0.1 and localhost; the tests trust it as their CA file."""
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            str(folder / "key.pem"),
            "-out",
            str(folder / "cert.pem"),
        ],
        check=True,
        capture_output=True,
    )
