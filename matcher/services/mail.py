"""Sending e-mail over SMTP with the standard library: the server URL, the message, one
reused connection.

``MATCHER_SMTP_URL`` forms: ``smtp://host[:port]`` (plain, port 25),
``smtp+starttls://host[:port]`` (upgraded with STARTTLS, port 587) and
``smtps://host[:port]`` (TLS from the start, port 465), each optionally with
``user:password@`` (percent-encoded). TLS uses the system's certificate store and checks
the host name. A URL is never logged with its password: use ``SmtpTarget.masked``.
"""

from __future__ import annotations

import datetime as dt
import smtplib
import ssl
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from urllib.parse import unquote, urlsplit

SCHEMES = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
PLACEHOLDER_DOMAIN = "minamata-match.invalid"


@dataclass(frozen=True)
class SmtpTarget:
    """Where and how to reach the SMTP server (parsed from ``MATCHER_SMTP_URL``)."""

    scheme: str
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, url: str) -> SmtpTarget:
        """``ValueError`` naming the accepted forms when ``url`` is not one of them (the
        message never repeats the URL, which may hold a password)."""
        parts = urlsplit(url.strip())
        if parts.scheme not in SCHEMES or not parts.hostname:
            raise ValueError(
                "MATCHER_SMTP_URL must look like smtp://host:port, smtp+starttls://host:port or "
                "smtps://host:port (optionally user:password@host)"
            )
        try:
            port = parts.port or SCHEMES[parts.scheme]
        except ValueError:
            raise ValueError("MATCHER_SMTP_URL has a port that is not a number from 1 to 65535") from None
        return cls(
            scheme=parts.scheme,
            host=parts.hostname,
            port=port,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )

    def masked(self) -> str:
        """The URL to show in logs and messages: the password replaced by ``***``."""
        credentials = f"{self.username}:***@" if self.username else ""
        return f"{self.scheme}://{credentials}{self.host}:{self.port}"


def masked_url(url: str) -> str:
    """``url`` fit for a log line, or a placeholder when it does not even parse."""
    try:
        return SmtpTarget.parse(url).masked()
    except ValueError:
        return "<an unreadable MATCHER_SMTP_URL>"


def envelope_sender(mail_from: str) -> str:
    """The bare address of a From header such as ``Minamata Match <no-reply@example.org>``."""
    return parseaddr(mail_from)[1] or mail_from


def message_id_domain(mail_from: str) -> str:
    """The domain Message-IDs are made in: the sender's, when it is a real (dotted) one."""
    domain = envelope_sender(mail_from).rpartition("@")[2].lower()
    return domain if "." in domain else PLACEHOLDER_DOMAIN


# The body is encoded in 7-bit form (quoted-printable or base64, lines of 76) so that any
# server takes it. Headers are then written unfolded up to 998 characters: the standard
# library's folding of a long non-Latin subject drops the space where it splits (an Arabic
# title lost one in testing), and an unfolded encoded word keeps every character.
_BODY_POLICY = policy.SMTP.clone(cte_type="7bit")
_SEND_POLICY = policy.SMTP.clone(max_line_length=998)
SUBJECT_LIMIT = 160  # characters; also keeps the unfolded Subject well under 998 bytes


def build_message(
    *, sender: str, recipient: str, subject: str, body: str, message_id: str, when: dt.datetime
) -> EmailMessage:
    """A plain-text UTF-8 message marked as automatic (RFC 3834), so vacation replies stay
    quiet. A subject over ``SUBJECT_LIMIT`` characters is shortened with an ellipsis."""
    if len(subject) > SUBJECT_LIMIT:
        subject = subject[: SUBJECT_LIMIT - 1].rstrip() + "…"
    message = EmailMessage(policy=_BODY_POLICY)
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = format_datetime(when)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body)
    message.policy = _SEND_POLICY
    return message


# Replies about one message (a refused recipient, a rejected body, a refused sender): the
# connection is still good, so the next message can go. Anything else is the connection.
MESSAGE_ERRORS = (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError, smtplib.SMTPSenderRefused)


def _closes_connection(problem: smtplib.SMTPException) -> bool:
    """A 421 reply means the server is closing the connection (RFC 5321 §3.8), whatever
    command it answered: smtplib has closed its side, so this is a connection failure."""
    if isinstance(problem, smtplib.SMTPRecipientsRefused):
        return any(code == 421 for code, _text in problem.recipients.values())
    return getattr(problem, "smtp_code", None) == 421


class Mailer:
    """One SMTP connection, opened on first use and reused for every message of a pass; after
    a connection failure it is dropped and the next ``send`` opens a new one.

    ``send`` returns only once the server has accepted the message (a 250 reply to DATA); it
    raises ``smtplib.SMTPException`` or ``OSError`` otherwise (``MESSAGE_ERRORS`` for a
    refusal of that one message). Every network call is bounded by ``timeout`` seconds.
    """

    def __init__(self, target: SmtpTarget, timeout: float) -> None:
        self.target = target
        self.timeout = timeout
        self._connection: smtplib.SMTP | None = None

    def open(self) -> None:
        if self._connection is not None:
            return
        target = self.target
        connection: smtplib.SMTP
        if target.scheme == "smtps":
            connection = smtplib.SMTP_SSL(
                target.host, target.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        else:
            connection = smtplib.SMTP(target.host, target.port, timeout=self.timeout)
        try:
            connection.ehlo()
            if target.scheme == "smtp+starttls":
                connection.starttls(context=ssl.create_default_context())
                connection.ehlo()
            if target.username:
                connection.login(target.username, target.password or "")
        except BaseException:
            connection.close()
            raise
        self._connection = connection

    def send(self, message: EmailMessage, *, sender: str, recipient: str) -> None:
        self.open()
        assert self._connection is not None
        try:
            self._connection.send_message(message, from_addr=sender, to_addrs=[recipient])
        except MESSAGE_ERRORS as problem:
            if not _closes_connection(problem):
                raise
            self.close()
            raise smtplib.SMTPServerDisconnected(
                f"the server is closing the connection: {problem}"
            ) from problem
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.quit()
        except (smtplib.SMTPException, OSError):
            connection.close()
