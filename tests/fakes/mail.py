"""The email channel's outside world for real: an SMTP server (aiosmtpd, with AUTH, capturing each raw mail)
and Debian's dovecot as the IMAP server, started with a throwaway config in a temporary directory.

Dovecot is a system package (dovecot-imapd): without it the tests that need it skip with a loud reason, except
when CI=true, where they fail (CI installs it, see .ci/run).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import email
import grp
import imaplib
import ipaddress
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

DOVECOT = "/usr/sbin/dovecot"
# AUTH without TLS is what the test SMTP server is for; aiosmtpd warns about it on every connection.
QUIET_SMTP = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
PROBE = "probe@shop.example.com"  # the account the fixture logs in with to know dovecot is up
PROBE_PASSWORD = "probe-secret"
SMTP_USER = "smtp-user"
SMTP_PASSWORD = "smtp-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def require_dovecot() -> None:
    """Skip (loudly) without dovecot; under CI=true its absence is a failure, never a silent skip."""
    if os.path.exists(DOVECOT):
        return
    reason = f"!!! {DOVECOT} is missing: install dovecot-imapd to run the email channel's IMAP tests !!!"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


# ---------------------------------------------------------------------------------------------- TLS


@dataclasses.dataclass
class ServerCertificates:
    """A throwaway CA and a server certificate it signed for localhost / 127.0.0.1 (PEM files)."""

    ca: Path
    cert: Path
    key: Path


def make_certificates(directory: Path) -> ServerCertificates:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ChatbotX test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    out = ServerCertificates(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    out.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    out.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    out.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    for path in (out.ca, out.cert, out.key):
        path.chmod(0o644)
    return out


# ---------------------------------------------------------------------------------------------- IMAP


@dataclasses.dataclass
class Mailbox:
    """One IMAP account (its address is its login) on the test dovecot."""

    address: str
    password: str
    port: int

    def connect(self) -> imaplib.IMAP4:
        conn = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        conn.login(self.address, self.password)
        return conn

    def append(self, raw: bytes | EmailMessage) -> int:
        """Deliver a mail into INBOX (IMAP APPEND, unseen); its UID."""
        data = raw.as_bytes(policy=policy.SMTP) if isinstance(raw, EmailMessage) else raw
        conn = self.connect()
        try:
            typ, answer = conn.append("INBOX", "", None, data)
            assert typ == "OK", answer
            # "[APPENDUID <uidvalidity> <uid>] ..." (RFC 4315; dovecot answers it)
            text = answer[0].decode() if answer and isinstance(answer[0], bytes) else ""
            return int(text.split("APPENDUID", 1)[1].split()[1].rstrip("]")) if "APPENDUID" in text else 0
        finally:
            conn.logout()

    def flags(self, uid: int) -> str:
        conn = self.connect()
        try:
            conn.select("INBOX", readonly=True)
            _, data = conn.uid("FETCH", str(uid), "(FLAGS)")
            return str(data[0])
        finally:
            conn.logout()


@dataclasses.dataclass
class Dovecot:
    """A running dovecot serving plain IMAP on 127.0.0.1:port, its accounts in a passwd-file."""

    root: Path
    port: int
    process: subprocess.Popen[bytes]
    count: int = 0
    tls_port: int = 0  # implicit TLS (imaps), when started with certificates

    def add_mailbox(self) -> Mailbox:
        """A new, empty account."""
        self.count += 1
        address = f"support-{os.getpid()}-{self.count}@shop.example.com"
        box = Mailbox(address, f"imap-secret-{self.count}", self.port)
        write_account(self.root, box.address, box.password)
        return box

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def write_account(root: Path, address: str, password: str) -> None:
    """A passwd-file of its own per account (`users/%u`): a new file is read at once, whereas dovecot may keep
    a cached copy of a shared file changed twice in one second."""
    path = root / "users" / address
    path.write_text(f"{address}:{{PLAIN}}{password}::::::\n")
    path.chmod(0o644)


def _mail_owner() -> tuple[int, int, str | None]:
    """The uid/gid mail is stored as, and the user the login processes run as (None: dovecot's defaults).

    Dovecot refuses uid 0 for mail: as root, mail belongs to the `dovecot` system user; otherwise everything
    runs as the current user (login and internal processes too, unchrooted)."""
    if os.getuid() == 0:
        entry = pwd.getpwnam("dovecot")
        return entry.pw_uid, entry.pw_gid, None
    return os.getuid(), os.getgid(), pwd.getpwuid(os.getuid()).pw_name


def dovecot_config(root: Path, port: int, tls: ServerCertificates | None = None, tls_port: int = 0) -> str:
    """Plain IMAP on `port`; with `tls`, STARTTLS offered there too and implicit TLS on `tls_port`."""
    uid, gid, run_as = _mail_owner()
    ssl = (
        f"ssl = yes\nssl_cert = <{tls.cert}\nssl_key = <{tls.key}\nssl_dh = </usr/share/dovecot/dh.pem\n"
        if tls
        else "ssl = no\n"
    )
    unprivileged = (
        f"default_login_user = {run_as}\ndefault_internal_user = {run_as}\n"
        f"default_internal_group = {grp.getgrgid(os.getgid()).gr_name}\n"
        f"service auth-worker {{\n  user = {run_as}\n}}\n"
        if run_as
        else ""
    )
    chroot = "  chroot =\n" if run_as else ""
    return f"""\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
{ssl}disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
first_valid_uid = {uid}
last_valid_uid = 0
first_valid_gid = 0
mail_location = maildir:{root}/mail/%u
{unprivileged}passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users/%u
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}
{chroot}}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
}}
service submission-login {{
  inet_listener submission {{
    port = 0
  }}
}}
service anvil {{
{chroot}}}
service imap {{
{chroot}}}
"""


@contextlib.contextmanager
def run_dovecot(tls: ServerCertificates | None = None) -> Iterator[Dovecot]:
    """Start dovecot in the foreground (-F) with a config in a new temporary directory; stop it afterwards.

    The directory is world-readable (pytest's are private to their owner): dovecot's auth process reads the
    passwd-files as dovecot's internal user."""
    require_dovecot()
    root = Path(tempfile.mkdtemp(prefix="chatbotx-dovecot-"))
    root.chmod(0o755)
    for sub in ("run", "state", "mail", "users"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    uid, gid, run_as = _mail_owner()
    if run_as is None:
        os.chown(root / "mail", uid, gid)
    write_account(root, PROBE, PROBE_PASSWORD)
    port = free_port()
    tls_port = free_port() if tls else 0
    config = root / "dovecot.conf"
    config.write_text(dovecot_config(root, port, tls, tls_port))
    process = subprocess.Popen(
        [DOVECOT, "-F", "-c", str(config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    server = Dovecot(root, port, process, tls_port=tls_port)
    probe = Mailbox(PROBE, PROBE_PASSWORD, port)
    deadline = time.monotonic() + 15
    while True:
        try:
            probe.connect().logout()
            break
        except (OSError, imaplib.IMAP4.error) as exc:
            if process.poll() is not None or time.monotonic() > deadline:
                server.stop()
                output = process.stdout.read().decode(errors="replace") if process.stdout else ""
                log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
                raise RuntimeError(f"dovecot did not start ({exc}):\n{output}\n{log}") from exc
            time.sleep(0.05)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


# ---------------------------------------------------------------------------------------------- SMTP


@dataclasses.dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


class _Handler:
    """Captures each mail; refuses recipients whose local part says so (refused@ -> 550, deferred@ -> 451)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.lock = threading.Lock()

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        local = address.split("@", 1)[0].lower()
        if local == "refused":
            return "550 5.1.1 No such user here"
        if local == "deferred":
            return "451 4.3.0 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        with self.lock:
            self.received.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), bytes(raw)))
        return "250 Message accepted"


class _Authenticator:
    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == SMTP_USER.encode()
            and auth_data.password == SMTP_PASSWORD.encode()
        )
        return AuthResult(success=ok, handled=False)


@dataclasses.dataclass
class FakeSmtp:
    host: str
    port: int
    handler: _Handler
    user: str = SMTP_USER
    password: str = SMTP_PASSWORD

    def received(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)

    def reset(self) -> None:
        with self.handler.lock:
            self.handler.received.clear()


@contextlib.contextmanager
def run_smtp(tls: ServerCertificates | None = None, mode: str = "none") -> Iterator[FakeSmtp]:
    """aiosmtpd on a free 127.0.0.1 port requiring AUTH. `mode`: "none" (AUTH over plain TCP: it is a test),
    "starttls" (STARTTLS required before anything else) or "tls" (implicit TLS), the last two with `tls`."""
    handler = _Handler()
    port = free_port()
    options: dict[str, Any] = {}
    if mode != "none":
        assert tls is not None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(tls.cert, tls.key)
        if mode == "starttls":
            options = {"tls_context": context, "require_starttls": True, "auth_require_tls": True}
        else:
            options = {"ssl_context": context, "auth_require_tls": False}
    else:
        options = {"auth_require_tls": False}
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        authenticator=_Authenticator(),
        auth_required=True,
        **options,
    )
    controller.start()
    try:
        yield FakeSmtp("127.0.0.1", port, handler)
    finally:
        controller.stop()


def channel_config(mailbox: Mailbox, smtp: FakeSmtp, **overrides: Any) -> dict[str, Any]:
    """The email channel's config for this mailbox and SMTP server (plain TCP: `none` TLS)."""
    config: dict[str, Any] = {
        "fromAddress": mailbox.address,
        "fromName": "Shop Support",
        "smtpHost": smtp.host,
        "smtpPort": smtp.port,
        "smtpUser": smtp.user,
        "smtpPassword": smtp.password,
        "smtpTls": "none",
        "imapHost": "127.0.0.1",
        "imapPort": mailbox.port,
        "imapUser": mailbox.address,
        "imapPassword": mailbox.password,
        "imapTls": "none",
    }
    config.update(overrides)
    return config


def mail(
    *,
    sender: str = "Jane Doe <jane@example.org>",
    to: str = "support@shop.example.com",
    subject: str = "Where is my order?",
    text: str | None = "Hello, where is order 42?",
    html: str | None = None,
    message_id: str | None = "<first-42@example.org>",
    in_reply_to: str | None = None,
    references: str | None = None,
    headers: dict[str, str] | None = None,
    attachments: list[tuple[str, str, bytes]] = (),  # type: ignore[assignment]
) -> EmailMessage:
    """A customer's mail as a mail client writes it."""
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = "Sun, 22 Nov 2026 10:00:00 +0000"
    if message_id:
        message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = references
    for name, value in (headers or {}).items():
        message[name] = value
    if text is not None:
        message.set_content(text)
        if html is not None:
            message.add_alternative(html, subtype="html")
    elif html is not None:
        message.set_content(html, subtype="html")
    for filename, mime, data in attachments:
        maintype, _, subtype = mime.partition("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message
