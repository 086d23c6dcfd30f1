"""NATS over TLS: a service's settings name the CA (and a client certificate where the server
verifies clients); a client that does not trust the server's CA does not connect."""
from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from pathlib import Path

import nats
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from closedloop import nats_users
from closedloop.embedded.nats_server import NatsServer, ServerTls
from closedloop.streams import provision_streams
from shared.bus.connection import connect_options
from shared.contracts import CapaClosed
from shared.settings import NatsSettings

pytestmark = pytest.mark.integration


class Authority:
    """A throwaway CA that signs the server's and the client's certificates."""

    def __init__(self, directory: Path, name: str = "closedloop test CA") -> None:
        self.directory = directory
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self.cert = (self._builder(subject, self.key.public_key(), subject)
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .sign(self.key, hashes.SHA256()))
        self.ca_file = self._write("ca.pem", self.cert.public_bytes(serialization.Encoding.PEM))

    def _builder(self, subject: x509.Name, public_key, issuer: x509.Name) -> x509.CertificateBuilder:
        now = dt.datetime.now(dt.timezone.utc)
        return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
                .public_key(public_key).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5))
                .not_valid_after(now + dt.timedelta(days=1)))

    def _write(self, name: str, data: bytes) -> Path:
        path = self.directory / name
        path.write_bytes(data)
        return path

    def issue(self, name: str, usage: x509.ObjectIdentifier) -> tuple[Path, Path]:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (self._builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]),
                              key.public_key(), self.cert.subject)
                .add_extension(x509.SubjectAlternativeName(
                    [x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                     x509.DNSName("localhost")]), critical=False)
                .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
                .sign(self.key, hashes.SHA256()))
        key_pem = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        return (self._write(f"{name}.pem", cert.public_bytes(serialization.Encoding.PEM)),
                self._write(f"{name}-key.pem", key_pem))


@pytest.fixture
def tls_nats(tmp_path):
    """Users and permissions as in production, and TLS with client certificates required."""
    authority = Authority(tmp_path)
    cert, key = authority.issue("nats-server", ExtendedKeyUsageOID.SERVER_AUTH)
    passwords = nats_users.passwords(tmp_path / "home")
    server = NatsServer(tmp_path / "nats", authorization=nats_users.with_hashes(passwords),
                        tls=ServerTls(cert, key, authority.ca_file, verify_clients=True)).start()
    yield server, authority, passwords
    server.stop()


async def test_a_service_connects_over_tls_with_its_certificate_and_user(tls_nats):
    server, authority, passwords = tls_nats
    assert server.url.startswith("tls://")
    client_cert, client_key = authority.issue("capa", ExtendedKeyUsageOID.CLIENT_AUTH)

    def settings(user: str) -> NatsSettings:
        return NatsSettings(nats_url=server.url, nats_user=user, nats_password=passwords[user],
                            nats_tls_ca_file=str(authority.ca_file),
                            nats_tls_cert_file=str(client_cert),
                            nats_tls_key_file=str(client_key))

    await provision_streams(settings(nats_users.ADMIN))
    nc = await nats.connect(**connect_options(settings("capa")))
    try:
        ack = await nc.jetstream().publish(CapaClosed.type_name(), b"{}")
        assert ack.stream == "CAPA"
    finally:
        await nc.close()


async def test_a_client_that_does_not_trust_the_servers_ca_is_not_connected(tls_nats, tmp_path):
    server, authority, passwords = tls_nats
    (tmp_path / "elsewhere").mkdir()
    stranger = Authority(tmp_path / "elsewhere", "another CA")
    client_cert, client_key = authority.issue("capa", ExtendedKeyUsageOID.CLIENT_AUTH)
    settings = NatsSettings(nats_url=server.url, nats_user="capa", nats_password=passwords["capa"],
                            nats_tls_ca_file=str(stranger.ca_file),
                            nats_tls_cert_file=str(client_cert), nats_tls_key_file=str(client_key))
    with pytest.raises(ssl.SSLCertVerificationError):
        await nats.connect(**connect_options(settings), allow_reconnect=False,
                           max_reconnect_attempts=0, connect_timeout=2)


async def test_a_client_without_a_certificate_is_refused_where_the_server_verifies_clients(
        tls_nats):
    server, authority, passwords = tls_nats
    settings = NatsSettings(nats_url=server.url, nats_user="capa", nats_password=passwords["capa"],
                            nats_tls_ca_file=str(authority.ca_file))
    # The server ends the handshake: the client sees the connection reset, or TLS's own
    # "certificate required" alert when it reads that first. A generous timeout keeps a slow
    # machine from passing off a timeout as the refusal.
    with pytest.raises((ConnectionError, ssl.SSLError)) as refused:
        await nats.connect(**connect_options(settings), allow_reconnect=False,
                           max_reconnect_attempts=0, connect_timeout=10)
    if isinstance(refused.value, ssl.SSLError):
        assert "CERTIFICATE_REQUIRED" in str(refused.value)
