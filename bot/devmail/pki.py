"""A private CA and a server certificate for the dev mail system, made fresh at start-up
(as a company mail server with its own CA would present, which the bot must be told to trust)."""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVER_NAMES = ("localhost", "mail.devmail.test")
SERVER_ADDRESSES = ("127.0.0.1", "127.0.0.2")


@dataclass(frozen=True)
class ServerCertificate:
    ca_file: Path  # what a client must trust
    cert_file: Path  # the server's certificate (PEM)
    key_file: Path


def make_private_ca(folder: Path, days: int = 7) -> ServerCertificate:
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.now(timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "supplierbot devmail private CA")])
    ca = (_builder(ca_name, ca_name, ca_key.public_key(), now, days)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName(n) for n in SERVER_NAMES] + [x509.IPAddress(ipaddress.ip_address(a))
                                                       for a in SERVER_ADDRESSES]
    server = (_builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERVER_NAMES[1])]), ca_name,
                       key.public_key(), now, days)
              .add_extension(x509.SubjectAlternativeName(names), critical=False)
              .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
              .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
              .sign(ca_key, hashes.SHA256()))
    result = ServerCertificate(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    result.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    result.cert_file.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    result.key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    result.key_file.chmod(0o600)
    return result


def _builder(subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey, now: datetime,
             days: int) -> x509.CertificateBuilder:
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=days)))
