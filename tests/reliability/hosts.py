"""App hosts on this machine for the two-hosts test: Linux network namespaces joined to a
bridge, each running the Procfile's processes, behind HAProxy with docs/haproxy.cfg.

Everything here is made with a random tag in its names and undone by `close()` (network)
or `stop()` (processes), which the test's fixtures call however it ends. Needs root (`ip
netns`), iproute2 and Debian's haproxy (`make haproxy`); `missing()` says what is absent.
"""

from __future__ import annotations

import csv
import ipaddress
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.reliability.helpers import ROOT, free_port, poll
from tests.support.deployment import HOST_PORT, procfile

HAPROXY_CFG = ROOT / "docs" / "haproxy.cfg"
WEB_PORT = 8000  # the Procfile's port; each host has an address of its own
# What a host's processes inherit from the test's environment: nothing of aTES's own
# settings, which the host's environment gives.
_NOT_INHERITED = ("ATES_", "MAIL_", "RATELIMIT_", "TEST_DATABASE", "FLASK_", "JOBS_", "PROXY_")


def haproxy_binary() -> str | None:
    return shutil.which("haproxy") or next(
        (path for path in ("/usr/sbin/haproxy",) if os.access(path, os.X_OK)), None
    )


def missing() -> str | None:
    """Why this machine cannot run the hosts, or None."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool in ("ip", "openssl"):
        if not shutil.which(tool):
            return f"{tool} is not installed"
    if not haproxy_binary():
        return "HAProxy is not installed (`make haproxy`)"
    return None


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")


def _free_subnet() -> ipaddress.IPv4Network:
    """A /24 of 10.0.0.0/8 that no address or route of this machine overlaps."""
    used = []
    for args in (["-4", "-o", "addr"], ["-4", "route"]):
        out = subprocess.run(["ip", *args], capture_output=True, text=True, check=True).stdout
        for word in out.split():
            try:
                used.append(ipaddress.ip_network(word, strict=False))
            except ValueError:
                continue
    for _ in range(1000):
        second, third = random.randrange(64, 250), random.randrange(256)
        candidate = ipaddress.ip_network(f"10.{second}.{third}.0/24")
        if not any(candidate.overlaps(net) for net in used if net.version == 4 and net.prefixlen):
            return candidate
    raise RuntimeError("no free /24 in 10.0.0.0/8")


class Network:
    """A bridge with the first address of a private /24 (where PostgreSQL and HAProxy reach
    the hosts and are reached), and one network namespace per host, joined to it by a veth
    pair, with the next addresses."""

    def __init__(self, hosts: int):
        tag = secrets.token_hex(3)
        self.subnet = _free_subnet()
        addresses = list(self.subnet.hosts())
        self.gateway = str(addresses[0])
        self.bridge = f"ates{tag}"  # interface names: 15 characters at most
        self.namespaces = [f"ates-{tag}-{n}" for n in range(1, hosts + 1)]
        self.addresses = [str(addresses[10 + n]) for n in range(1, hosts + 1)]
        self._made: list[tuple[str, str]] = []  # what close() removes, newest first
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    def _build(self) -> None:
        _ip("link", "add", "name", self.bridge, "type", "bridge")
        self._made.append(("link", self.bridge))
        _ip("addr", "add", f"{self.gateway}/{self.subnet.prefixlen}", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        for n, (namespace, address) in enumerate(zip(self.namespaces, self.addresses, strict=True)):
            _ip("netns", "add", namespace)
            self._made.append(("netns", namespace))
            outside = f"{self.bridge}-{n + 1}"
            _ip("link", "add", outside, "type", "veth", "peer", "name", "eth0", "netns", namespace)
            self._made.append(("link", outside))
            _ip("link", "set", outside, "master", self.bridge, "up")
            _ip("-n", namespace, "addr", "add", f"{address}/{self.subnet.prefixlen}", "dev", "eth0")
            _ip("-n", namespace, "link", "set", "eth0", "up")
            _ip("-n", namespace, "link", "set", "lo", "up")

    def close(self) -> None:
        """Remove the namespaces, veth pairs and bridge (each attempted, whatever failed)."""
        errors = []
        while self._made:
            kind, name = self._made.pop()
            try:
                _ip(kind, "del", name)
            except RuntimeError as error:
                if "Cannot find" not in str(error) and "No such" not in str(error):
                    errors.append(str(error))
        if errors:
            raise RuntimeError("; ".join(errors))


class Host:
    """One app host: the Procfile's processes (web and worker, as written, the web one bound
    to the host's address) in its network namespace, in one process group, their output
    appended to `logs`/<host>-<process>.log."""

    def __init__(self, name: str, namespace: str, address: str, env: dict, logs: Path):
        self.name = name
        self.namespace = namespace
        self.address = address
        self.env = env
        self.logs = logs
        self.processes: dict[str, subprocess.Popen] = {}
        self.group: int | None = None
        self.starts = 0

    def log_path(self, process: str) -> Path:
        return self.logs / f"{self.name}-{process}.log"

    def commands(self) -> dict[str, list[str]]:
        """The Procfile's commands, gunicorn bound to this host's address. The virtual
        environment is the Procfile's `.venv` when the checkout has one, else the test's."""
        commands = {}
        for process, argv in procfile().items():
            argv = [arg.replace(HOST_PORT, f"{self.address}:{WEB_PORT}") for arg in argv]
            if not (ROOT / argv[0]).exists() and argv[0].startswith(".venv/"):
                argv[0] = str(Path(sys.executable).parent / Path(argv[0]).name)
            commands[process] = argv
        return commands

    def start(self) -> None:
        self.starts += 1
        self.group = None
        for process, argv in self.commands().items():
            with self.log_path(process).open("a") as log:  # the child keeps its own copy
                log.write(f"--- start {self.starts} of {self.name} {process}\n")
                log.flush()
                child = subprocess.Popen(
                    ["ip", "netns", "exec", self.namespace, *argv],
                    cwd=ROOT,
                    env=self.env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    process_group=0 if self.group is None else self.group,
                )
            self.processes[process] = child
            if self.group is None:
                self.group = child.pid

    def running(self) -> dict[str, bool]:
        return {process: child.poll() is None for process, child in self.processes.items()}

    def kill(self) -> None:
        """SIGKILL to the whole process group (gunicorn's master and workers, the worker)."""
        self._signal_group(signal.SIGKILL)
        for child in self.processes.values():
            child.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL for whatever has not ended within 20 s."""
        self._signal_group(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for child in self.processes.values():
            try:
                child.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                pass
        self._signal_group(signal.SIGKILL)
        for child in self.processes.values():
            child.wait(timeout=30)

    def _signal_group(self, signum: int) -> None:
        if self.group is None:
            return
        try:
            os.killpg(self.group, signum)
        except ProcessLookupError:
            pass

    def output(self, process: str) -> str:
        path = self.log_path(process)
        return path.read_text(errors="replace") if path.exists() else ""


def host_env(database_url: str, secret_key: str) -> dict[str, str]:
    """A host's environment: the README's production settings, one proxy in front."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_NOT_INHERITED)}
    env.pop("DATABASE_URL", None)
    env.update(
        ATES_ENV="production",
        DATABASE_URL=database_url,
        SECRET_KEY=secret_key,
        PROXY_FIX_X_FOR="1",
        PYTHONUNBUFFERED="1",
    )
    return env


def self_signed_pem(directory: Path) -> Path:
    """A certificate for 127.0.0.1 and its key in one PEM file (as HAProxy takes them);
    the certificate alone (for the client to trust) beside it as cert.pem."""
    key, cert, pem = directory / "key.pem", directory / "cert.pem", directory / "haproxy.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    pem.write_bytes(cert.read_bytes() + key.read_bytes())
    return pem


class Balancer:
    """HAProxy in the foreground with docs/haproxy.cfg, on 127.0.0.1 (TLS), in front of
    `servers` (addresses "ip:port", named host1, host2, …)."""

    def __init__(self, servers: list[str], directory: Path):
        self.port = free_port()
        self.socket = directory / "haproxy.sock"
        pem = self_signed_pem(directory)
        self.cert = directory / "cert.pem"
        self.log = directory / "haproxy.log"
        env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")}
        env.update(
            ATES_FRONTEND=f"127.0.0.1:{self.port}",
            ATES_TLS_PEM=str(pem),
            ATES_ADMIN_SOCKET=str(self.socket),
            **{f"ATES_HOST{n}": server for n, server in enumerate(servers, start=1)},
        )
        binary = haproxy_binary()
        check = subprocess.run(
            [binary, "-c", "-f", str(HAPROXY_CFG)], env=env, capture_output=True, text=True
        )
        assert check.returncode == 0, f"docs/haproxy.cfg: {check.stdout}{check.stderr}"
        with self.log.open("w") as log:
            self.proc = subprocess.Popen(
                [binary, "-db", "-f", str(HAPROXY_CFG)],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if not poll(self.socket.exists, timeout=30, interval=0.05):
            self.stop()
            raise RuntimeError(f"HAProxy did not start:\n{self.log.read_text()}")
        self.url = f"https://127.0.0.1:{self.port}"

    def command(self, line: str) -> str:
        with socket.socket(socket.AF_UNIX) as admin:
            admin.settimeout(10)
            admin.connect(str(self.socket))
            admin.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := admin.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def servers(self) -> dict[str, dict[str, str]]:
        """The backend's servers as `show stat` reports them: {name: {field: value}}, with
        "status" (UP, DOWN, …) and "downtime" (seconds down in all)."""
        text = self.command("show stat").lstrip("# ")
        rows = csv.DictReader(text.splitlines())
        return {
            row["svname"]: row
            for row in rows
            if row["pxname"] == "ates_web" and row["svname"] not in ("BACKEND", "FRONTEND")
        }

    def status(self, server: str) -> str:
        return self.servers()[server]["status"]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
