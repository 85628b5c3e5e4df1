"""The TCP door's address and transport: loopback unless told, a warning when told, and
HTTPS with ``daemon.tls_cert`` / ``daemon.tls_key`` reached by real TLS clients (httpx and
the openai SDK) against a real daemon."""

from __future__ import annotations

import datetime
import ipaddress
import signal
import socket
import ssl
import subprocess
from pathlib import Path

import httpx
import openai
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from superllmd.config import DaemonSettings
from superllmd.errors import ConfigError
from superllmd.gateway.listen import Listen, bind_tcp, parse_listen
from tests.e2e.conftest import SUPERLLM, Cli, base_env, write_config
from tests.fakes.openai import FakeOpenAI


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


def test_loopback_by_default_and_remote_only_when_allowed() -> None:
    assert parse_listen(DaemonSettings(listen="127.0.0.1:8765")) == Listen("127.0.0.1", 8765)
    assert parse_listen(DaemonSettings(listen="localhost:8765")) is not None
    with pytest.raises(ConfigError, match="allow_remote"):
        parse_listen(DaemonSettings(listen="0.0.0.0:8765"))
    allowed = parse_listen(DaemonSettings(listen="0.0.0.0:8765", allow_remote=True))
    assert allowed == Listen("0.0.0.0", 8765)
    with pytest.raises(ConfigError, match="go together: set both"):
        parse_listen(DaemonSettings(listen="127.0.0.1:1", tls_cert="/x.pem"))


def test_a_remote_address_prints_a_warning(capsys: pytest.CaptureFixture[str]) -> None:
    quiet = bind_tcp(Listen("127.0.0.1", 0))
    quiet.close()
    assert "warning" not in capsys.readouterr().err
    loud = bind_tcp(Listen("0.0.0.0", 0))
    loud.close()
    err = capsys.readouterr().err
    assert "superllmd: warning: the gateway listens on 0.0.0.0" in err
    assert "beyond this machine" in err


def test_tls_with_real_clients(home: Path, fake_openai: FakeOpenAI, cli: Cli) -> None:
    cert, key = _self_signed(home)
    port = _free_port()
    write_config(
        home,
        f'[daemon]\nlisten = "127.0.0.1:{port}"\ntls_cert = "{cert}"\ntls_key = "{key}"\n'
        f'[providers.fake]\nkind = "openai-compatible"\nbase_url = "{fake_openai.base_url}"\n'
        'models = ["gpt-fake"]\n',
    )
    assert cli("daemon", "start").returncode == 0
    secret = cli("serve", "token", "create", "tls").stdout.strip()
    trust = ssl.create_default_context(cafile=str(cert))
    with httpx.Client(verify=trust, timeout=30) as http:
        models = http.get(
            f"https://127.0.0.1:{port}/v1/models", headers={"authorization": f"Bearer {secret}"}
        )
        assert models.status_code == 200 and models.json()["object"] == "list"
        client = openai.OpenAI(
            base_url=f"https://127.0.0.1:{port}/v1",
            api_key=secret,
            max_retries=0,
            http_client=http,
        )
        reply = client.chat.completions.create(
            model="fake/gpt-fake", messages=[{"role": "user", "content": "sealed"}]
        )
        assert reply.choices[0].message.content == "echo: sealed"
    with pytest.raises(httpx.ConnectError):  # an untrusted certificate is refused
        httpx.get(f"https://127.0.0.1:{port}/v1/models", timeout=10)
    with pytest.raises(httpx.HTTPError):  # plain HTTP finds no HTTP server there
        httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=10)


def test_serve_in_the_foreground_with_allow_remote(home: Path, cli: Cli) -> None:
    port = _free_port()
    env = base_env(home)
    assert SUPERLLM
    refused = subprocess.run(
        [SUPERLLM, "serve", "--host", "0.0.0.0", "--port", str(port)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2 and "allow_remote" in refused.stderr
    process = subprocess.Popen(
        [SUPERLLM, "serve", "--host", "0.0.0.0", "--port", str(port), "--allow-remote"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        said = [process.stderr.readline() for _ in range(1)]
        while "listens on" not in said[-1] and said[-1] and len(said) < 50:
            said.append(process.stderr.readline())  # anything it logs before the bind
        assert "warning: the gateway listens on 0.0.0.0" in said[-1], said
        secret = cli("serve", "token", "create", "remote").stdout.strip()
        models = httpx.get(
            f"http://127.0.0.1:{port}/v1/models",
            headers={"authorization": f"Bearer {secret}"},
            timeout=30,
        )
        assert models.status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(60)
    assert code == 0
