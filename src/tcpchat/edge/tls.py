"""TLS for the server: its SSL context, and a self-signed certificate to try TLS with.

The server asks every TLS client for a certificate, and takes any it is given, self-signed
included, without checking it: a client certificate is not an identity the server trusts on
its own, only a key whose SHA-256 fingerprint an account may have listed (CERTFP, for SASL
EXTERNAL). A client without one connects as ever. Python's `ssl` can ask for a certificate
(`CERT_OPTIONAL`) but then insists on verifying it against trusted authorities, so a
self-signed one would end the handshake; `accept_any_client_certificate` replaces OpenSSL's
check through ctypes (`SSL_CTX_set_cert_verify_callback`, the hook OpenSSL provides for
this). Where that is not possible, clients are not asked, and the log says so once.

`tcpchat gen-cert` runs the `openssl` command when there is one:

    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 365 \\
        -keyout key.pem -out cert.pem -subj /CN=HOST \\
        -addext subjectAltName=DNS:HOST,DNS:localhost,IP:127.0.0.1,IP:::1

and falls back to the `cryptography` package if that happens to be installed.
"""

from __future__ import annotations

import ctypes
import datetime
import functools
import ipaddress
import logging
import os
import re
import shutil
import ssl
import subprocess
from pathlib import Path

from ..errors import CertificateError, ConfigError

__all__ = [
    "CertificateError", "accept_any_client_certificate", "make_self_signed", "server_context",
]  # fmt: skip

log = logging.getLogger("tcpchat.edge")

CERT_NAME = "cert.pem"
KEY_NAME = "key.pem"
VALID_DAYS = 365


def server_context(cert: str, key: str | None = None) -> ssl.SSLContext:
    """The server's context: the library's defaults for servers, TLS 1.2 at least.

    Raises ConfigError with one line naming the file that can't be used, and what to do."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    cert_pem = _read("TLS certificate", cert)
    key_pem = _read("TLS key", key) if key else cert_pem
    _check_pem(cert, cert_pem, key, key_pem)
    key_name = f"TLS key {key}" if key else f"the key in TLS certificate {cert}"
    try:
        context.load_cert_chain(cert, key, password=_no_passphrase)
    except _Encrypted:
        where = key or cert
        raise ConfigError(
            f"{key_name} is protected by a passphrase, which the server cannot ask for; "
            f"decrypt it: openssl pkey -in {where} -out KEY.pem (and keep KEY.pem private)"
        ) from None
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            raise ConfigError(
                f"{key_name} does not belong to the certificate {cert}; "
                "give the key the certificate was made with"
            ) from None
        raise ConfigError(
            f"cannot use TLS certificate {cert} with {key_name}: {exc.reason or exc}"
        ) from None
    except OSError as exc:  # the files changed under us since they were read
        raise ConfigError(f"cannot use TLS certificate {cert}: {exc.strerror or exc}") from None
    if accept_any_client_certificate(context):
        context.verify_mode = ssl.CERT_OPTIONAL
    else:
        log.warning(
            "TLS clients are not asked for certificates (this Python's ssl module can't be "
            "told to accept self-signed ones), so SASL EXTERNAL can't log anyone in"
        )
    return context


# int callback(X509_STORE_CTX *store, void *arg): 1 accepts the peer's certificate chain.
_VERIFY_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)


@functools.cache
def _accept_all() -> ctypes._CFuncPtr:  # type: ignore[name-defined]
    """The callback that takes any certificate; made once, and kept alive for good."""
    return _VERIFY_CALLBACK(lambda store, arg: 1)


@functools.cache
def _libssl() -> ctypes.CDLL | None:
    """The OpenSSL that Python's ssl module runs on (its symbols, through `_ssl`)."""
    import _ssl

    for name in (getattr(_ssl, "__file__", None), None):  # None: linked into python itself
        try:
            lib = ctypes.CDLL(name)
            lib.SSL_CTX_set_cert_verify_callback.argtypes = [
                ctypes.c_void_p, _VERIFY_CALLBACK, ctypes.c_void_p,
            ]  # fmt: skip
            lib.SSL_CTX_set_cert_verify_callback.restype = None
            lib.SSL_CTX_get_options.argtypes = [ctypes.c_void_p]
            lib.SSL_CTX_get_options.restype = ctypes.c_uint64
        except (OSError, AttributeError):
            continue
        return lib
    return None


def accept_any_client_certificate(context: ssl.SSLContext) -> bool:
    """Make `context` take whatever client certificate it is given, unchecked (see the
    module docstring); False when this Python does not allow it, the context unchanged."""
    lib = _libssl()
    if lib is None:
        return False
    # An SSLContext object is its object header, then the SSL_CTX pointer (CPython's
    # PySSLContext); OpenSSL's own record of the options tells whether that is so.
    pointer = ctypes.c_void_p.from_address(id(context) + object.__basicsize__).value
    if not pointer or lib.SSL_CTX_get_options(pointer) != context.options:
        return False
    lib.SSL_CTX_set_cert_verify_callback(pointer, _accept_all(), None)
    return True


class _Encrypted(Exception):
    """The key wants a passphrase: the server is no place to type one."""


def _no_passphrase() -> bytes:
    raise _Encrypted


def _read(what: str, path: str) -> str:
    """The file's text, or a ConfigError naming it and saying why it can't be read."""
    try:
        return Path(path).read_text(encoding="ascii", errors="replace")
    except FileNotFoundError:
        if what == "TLS certificate":
            hint = "make one to try TLS with: python server.py gen-cert --out tls/"
        else:
            hint = "--tls-key (tls_key) names the private key that belongs to the certificate"
        raise ConfigError(f"{what} {path} not found; {hint}") from None
    except IsADirectoryError:
        raise ConfigError(f"{what} {path} is a directory; name the {what[4:]} file in it") from None
    except PermissionError:
        raise ConfigError(
            f"cannot read {what} {path}: permission denied; let the server's user read it "
            "(and no one else, for a key)"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def _check_pem(cert: str, cert_pem: str, key: str | None, key_pem: str) -> None:
    """Each file holds what it should: PEM blocks of the right kind."""
    has_key = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
    if "-----BEGIN CERTIFICATE-----" not in cert_pem:
        if has_key.search(cert_pem) and key and "-----BEGIN CERTIFICATE-----" in key_pem:
            raise ConfigError(
                f"TLS certificate {cert} holds a private key, not a certificate: "
                "are --tls-cert and --tls-key swapped?"
            )
        raise ConfigError(
            f"TLS certificate {cert} is not a PEM certificate (no -----BEGIN CERTIFICATE----- "
            "line); --tls-cert (tls_cert) wants one, such as Let's Encrypt's fullchain.pem"
        )
    if key is None:
        if not has_key.search(cert_pem):
            raise ConfigError(
                f"TLS certificate {cert} holds no private key; "
                "name the key file with --tls-key (tls_key)"
            )
    elif not has_key.search(key_pem):
        raise ConfigError(
            f"TLS key {key} is not a PEM private key (no -----BEGIN ... PRIVATE KEY----- line); "
            "--tls-key (tls_key) wants one, such as Let's Encrypt's privkey.pem"
        )


def _alt_names(host: str) -> list[str]:
    """subjectAltName entries: the host, plus this machine's loopback names."""
    names = [host, "localhost", "127.0.0.1", "::1"]
    out: list[str] = []
    for name in dict.fromkeys(names):
        try:
            ipaddress.ip_address(name)
            out.append(f"IP:{name}")
        except ValueError:
            out.append(f"DNS:{name}")
    return out


def make_self_signed(folder: Path, host: str) -> tuple[Path, Path]:
    """Write cert.pem and key.pem (readable by the owner only) into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / CERT_NAME, folder / KEY_NAME
    # The key file exists, private, before any key is written into it.
    os.close(os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    os.chmod(key, 0o600)
    openssl = shutil.which("openssl")
    if openssl is not None:
        _with_openssl(openssl, cert, key, host)
    else:
        _with_cryptography(cert, key, host)
    return cert, key


def _with_openssl(openssl: str, cert: Path, key: Path, host: str) -> None:
    command = [
        openssl, "req", "-x509",
        "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-days", str(VALID_DAYS),
        "-keyout", str(key), "-out", str(cert),
        "-subj", f"/CN={host}",
        "-addext", "subjectAltName=" + ",".join(_alt_names(host)),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise CertificateError(f"openssl failed: {done.stderr.strip()}")


def _with_cryptography(cert: Path, key: Path, host: str) -> None:
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        raise CertificateError(
            "neither the openssl command nor the Python cryptography package is installed; "
            "install one of them (e.g. apt install openssl, or pip install cryptography)"
        ) from None
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    alt: list[x509.GeneralName] = []
    for entry in _alt_names(host):
        kind, _, value = entry.partition(":")
        if kind == "IP":
            alt.append(x509.IPAddress(ipaddress.ip_address(value)))
        else:
            alt.append(x509.DNSName(value))
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(private, hashes.SHA256())
    )
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
