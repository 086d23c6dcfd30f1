"""E-mail over SMTP with TLS (aiosmtplib): TLS from the first byte (smtps://) or STARTTLS
(smtp://, required: a server that does not offer it is refused, nothing goes in clear). One
message in two forms, plain text and HTML (multipart/alternative). The server's host is
resolved and checked against the egress policy, and the checked address is the one
connected to; TLS still verifies the host name."""
from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Awaitable, Callable
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import aiosmtplib

from services.notifier.channels.base import ErrorClass, Notification, Outcome, Target
from services.notifier.channels.content import compose
from services.notifier.channels.egress import DestinationRefused, EgressPolicy
from services.notifier.channels.kinds import EmailUrl

Resolve = Callable[[str, int], Awaitable[list[tuple[str, int]]]]


async def system_resolve(host: str, port: int) -> list[tuple[str, int]]:
    found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys((str(info[4][0]), port) for info in found))


def mail_of(email: EmailUrl, to: str, notification: Notification, subject: str, text: str,
            html: str, sent_at: datetime) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"], mail["From"], mail["To"] = subject, email.sender, to
    mail["Date"] = format_datetime(sent_at)
    mail["Message-ID"] = make_msgid(idstring=f"{notification.delivery_id}.{notification.attempt}",
                                    domain=email.sender.rsplit("@", 1)[-1])
    mail["X-Closedloop-Delivery"] = notification.delivery_id
    mail.set_content(text)
    mail.add_alternative(html, subtype="html")  # multipart/alternative: text, then HTML
    return mail


class EmailChannel:
    def __init__(self, policy: EgressPolicy, tls_context: ssl.SSLContext, *, timeout: float,
                 public_url: str | None = None, resolve: Resolve = system_resolve) -> None:
        self.policy, self.tls_context, self.timeout = policy, tls_context, timeout
        self.public_url, self.resolve = public_url, resolve

    async def send(self, target: Target, notification: Notification,
                   sent_at: datetime) -> Outcome:
        email = EmailUrl.parse(target.url)
        recipient = notification.recipient or {}
        to = recipient.get("address") if recipient.get("medium") == "email" else email.to
        message = compose(notification, "email", public_url=self.public_url, now=sent_at)
        fallback = message.fallback_reason
        if not to:
            return Outcome.failure("nobody to mail: the message is for no person with an "
                                   "email contact and the channel's URL has no ?to=",
                                   ErrorClass.REJECTED, retryable=False, fallback_reason=fallback)
        mail = mail_of(email, to, notification, message.subject, message.text, message.html,
                       sent_at)
        try:
            sock = await asyncio.wait_for(self._connect(email), self.timeout)
            smtp = aiosmtplib.SMTP(sock=sock, hostname=email.host, use_tls=email.implicit_tls,
                                   start_tls=not email.implicit_tls, tls_context=self.tls_context,
                                   timeout=self.timeout)
            async with smtp:
                if email.username:
                    await smtp.login(email.username, email.password or "")
                await smtp.send_message(mail)
        except DestinationRefused as refused:
            return Outcome.failure(str(refused), ErrorClass.DESTINATION_REFUSED,
                                   retryable=False, fallback_reason=fallback)
        except aiosmtplib.SMTPResponseException as answer:
            return smtp_failure(answer.code, fallback)
        except aiosmtplib.SMTPRecipientsRefused as refused:
            code = min((r.code for r in refused.recipients), default=550)
            return smtp_failure(code, fallback)
        except ssl.SSLCertVerificationError:
            return Outcome.failure(f"{email.host}'s TLS certificate could not be verified",
                                   ErrorClass.NETWORK, retryable=False, fallback_reason=fallback)
        except aiosmtplib.SMTPException as error:  # STARTTLS not offered, connection lost…
            return Outcome.failure(f"SMTP: {type(error).__name__}", ErrorClass.NETWORK,
                                   retryable=True, fallback_reason=fallback)
        except (TimeoutError, OSError) as error:
            return Outcome.failure(f"{email.host}:{email.port} could not be reached "
                                   f"({type(error).__name__})", ErrorClass.NETWORK,
                                   retryable=True, fallback_reason=fallback)
        return Outcome.success(250, fallback_reason=fallback)

    async def _connect(self, email: EmailUrl) -> socket.socket:
        resolved = await self.resolve(email.host, email.port)
        self.policy.check_resolved(email.host, [address for address, _ in resolved])
        loop, last = asyncio.get_running_loop(), None
        for address, port in resolved:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setblocking(False)
            try:
                await loop.sock_connect(sock, (address, port))
            except OSError as error:
                sock.close()
                last = error
                continue
            return sock
        raise last or OSError(f"{email.host} resolved to nothing")


def smtp_failure(code: int, fallback: str | None) -> Outcome:
    """4xx: the server says try later; 5xx: it will not take this message (bad address,
    refused login) and saying it again will not change that."""
    return Outcome.failure(f"the SMTP server answered {code}", ErrorClass.REJECTED,
                           retryable=400 <= code < 500, status_code=code,
                           fallback_reason=fallback)
