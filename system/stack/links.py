"""The proxied links, through the real Toxiproxy server.

``toxiproxy-python`` (0.1.1) speaks Toxiproxy's v2 API but has no HTTP timeouts, a global
server address and ignores most server errors. This module is the one place that uses it:
every change is read back from the server and a mismatch raises ``LinkError``.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from system.config import HOST, Ports
from system.stack.errors import StackError
from system.stack.kafka_cluster import broker_ports
from system.stack.names import TOXIC_ATTRIBUTES, broker_link_names

_API_LOCK = threading.Lock()


class LinkError(StackError):
    """Toxiproxy refused or did not apply a change."""


@dataclass(frozen=True)
class LinkSpec:
    name: str
    listen_port: int
    upstream_port: int

    @property
    def listen(self) -> str:
        return f"{HOST}:{self.listen_port}"

    @property
    def upstream(self) -> str:
        return f"{HOST}:{self.upstream_port}"


def link_specs(ports: Ports, brokers: int = 1) -> list[LinkSpec]:
    """One proxy per link; with 3 brokers every Kafka link is one proxy per broker
    (``producer-kafka-1..3`` …) plus each broker's ``kafka-N-replication`` and
    ``kafka-N-controller`` (see :mod:`system.stack.kafka_cluster`)."""
    mongo = [
        LinkSpec("spark-mongo", ports.spark_mongo, ports.mongo),
        LinkSpec("dashboard-mongo", ports.dashboard_mongo, ports.mongo),
    ]
    if brokers == 1:
        return [
            LinkSpec("producer-kafka", ports.producer_kafka, ports.kafka_producer_backend),
            LinkSpec("spark-kafka", ports.spark_kafka, ports.kafka_spark_backend),
            *mongo,
        ]
    kafka = [LinkSpec(name, listen, upstream)
             for node in range(1, brokers + 1)
             for name, (listen, upstream) in broker_ports(ports, node).links().items()]
    return [*kafka, *mongo]


def link_members(link: str, proxy_names: set[str] | list[str]) -> list[str]:
    """The proxies a link name acts on: the proxy of that name; else its per-broker copies
    (``producer-kafka`` → ``producer-kafka-1..3``); else, for ``kafka-N``, every proxy into
    broker N (down = the broker isolated). [] when the name matches nothing."""
    names = set(proxy_names)
    if link in names:
        return [link]
    copies = sorted((p for p in names if re.fullmatch(re.escape(link) + r"-\d+", p)),
                    key=lambda p: int(p.rsplit("-", 1)[1]))
    if copies:
        return copies
    broker = re.fullmatch(r"kafka-(\d+)", link)
    if broker:
        return [p for p in broker_link_names(int(broker.group(1))) if p in names]
    return []


class Links:
    """Create, break and heal the stack's links."""

    def __init__(self, api_url: str) -> None:
        from toxiproxy import Toxiproxy

        self.api_url = api_url.rstrip("/")
        host, port = self.api_url.rsplit("//", 1)[1].split(":")
        self._address = (host, int(port))
        self._server = Toxiproxy()

    @contextlib.contextmanager
    def _client(self) -> Iterator[Any]:
        """toxiproxy-python keeps ONE server address for the whole process (class attributes
        of its APIConsumer): point it at our server for the duration of each call, under a
        lock, so several stacks in one process never talk to each other's Toxiproxy."""
        with _API_LOCK:
            self._server.update_api_consumer(*self._address)
            yield self._server

    # -- reading, with timeouts, straight from the API

    def _get(self, path: str) -> Any:
        try:
            with urllib.request.urlopen(self.api_url + path, timeout=5) as resp:
                return json.loads(resp.read())
        except (OSError, ValueError) as exc:
            raise LinkError(f"Toxiproxy at {self.api_url} did not answer GET {path}: {exc}"
                            ) from exc

    def version(self) -> str:
        with urllib.request.urlopen(self.api_url + "/version", timeout=5) as resp:
            return resp.read().decode().strip()

    def proxies(self) -> dict[str, dict[str, Any]]:
        return self._get("/proxies")

    def proxy(self, link: str) -> dict[str, Any]:
        """One proxy's state (a link acting on several proxies: see :meth:`members`)."""
        proxies = self.proxies()
        if link not in proxies:
            raise LinkError(f"no link named {link!r}; known: {', '.join(sorted(proxies))}")
        return proxies[link]

    def members(self, link: str) -> list[str]:
        """The proxies ``link`` acts on (see :func:`link_members`); LinkError if none."""
        proxies = self.proxies()
        found = link_members(link, list(proxies))
        if not found:
            raise LinkError(f"no link named {link!r}; known: {', '.join(sorted(proxies))}")
        return found

    # -- changes, each verified

    def ensure(self, specs: list[LinkSpec]) -> None:
        """Create every link (replacing one whose addresses differ)."""
        with self._client() as server:
            server.populate([
                {"name": s.name, "listen": s.listen, "upstream": s.upstream, "enabled": True}
                for s in specs
            ])
        proxies = self.proxies()
        for s in specs:
            got = proxies.get(s.name)
            if not got or got["listen"] != s.listen or got["upstream"] != s.upstream:
                raise LinkError(f"Toxiproxy did not create link {s.name} "
                                f"({s.listen} → {s.upstream}); it reports {got!r}")

    def add_toxic(self, link: str, toxic: str, attributes: dict[str, float] | None = None, *,
                  stream: str = "downstream", toxicity: float = 1.0,
                  name: str | None = None) -> str:
        """Add a toxic (to every proxy of the link, under one name); returns its name.
        Unknown toxic or attribute → LinkError; a partial failure is rolled back."""
        attributes = dict(attributes or {})
        if toxic not in TOXIC_ATTRIBUTES:
            raise LinkError(f"unknown toxic {toxic!r}; known: {', '.join(TOXIC_ATTRIBUTES)}")
        unknown = set(attributes) - set(TOXIC_ATTRIBUTES[toxic])
        if unknown:
            raise LinkError(f"toxic {toxic!r} has no attribute {', '.join(sorted(unknown))}; "
                            f"allowed: {', '.join(TOXIC_ATTRIBUTES[toxic])}")
        if stream not in ("upstream", "downstream"):
            raise LinkError(f"stream must be upstream or downstream, not {stream!r}")
        name = name or f"{toxic}_{stream}"
        done: list[str] = []
        try:
            for member in self.members(link):
                self._add_one(member, name, toxic, stream, toxicity, attributes)
                done.append(member)
        except Exception:
            for member in done:
                with contextlib.suppress(Exception):
                    self._remove_one(member, name)
            raise
        return name

    def _add_one(self, proxy_name: str, name: str, toxic: str, stream: str, toxicity: float,
                 attributes: dict[str, float]) -> None:
        with self._client() as server:
            proxy = server.get_proxy(proxy_name)
            if proxy is None:
                raise LinkError(f"no link named {proxy_name!r}")
            proxy.add_toxic(type=toxic, name=name, stream=stream, toxicity=toxicity,
                            attributes=attributes)
        toxics = {t["name"]: t for t in self.proxy(proxy_name)["toxics"]}
        if name not in toxics:
            raise LinkError(f"Toxiproxy did not add toxic {name!r} to {proxy_name}")

    def remove_toxic(self, link: str, name: str) -> None:
        for member in self.members(link):
            self._remove_one(member, name)

    def _remove_one(self, proxy_name: str, name: str) -> None:
        with self._client() as server:
            proxy = server.get_proxy(proxy_name)
            if proxy is not None:
                with contextlib.suppress(Exception):  # the result is verified below
                    proxy.destroy_toxic(name)
        if any(t["name"] == name for t in self.proxy(proxy_name)["toxics"]):
            raise LinkError(f"Toxiproxy did not remove toxic {name!r} from {proxy_name}")

    def set_enabled(self, link: str, enabled: bool) -> None:
        """Disabling a link closes its connections and stops listening: a partition.
        A link of several proxies (``producer-kafka`` on 3 brokers, ``kafka-2``) changes
        every one of them."""
        for member in self.members(link):
            with self._client() as server:
                proxy = server.get_proxy(member)
                if proxy is None:
                    raise LinkError(f"no link named {member!r}")
                proxy.enable() if enabled else proxy.disable()
            if self.proxy(member)["enabled"] is not enabled:
                raise LinkError(f"Toxiproxy did not {'enable' if enabled else 'disable'} "
                                f"{member}")

    def reset(self) -> None:
        """Heal everything: every link enabled, every toxic removed."""
        req = urllib.request.Request(self.api_url + "/reset", method="POST", data=b"")
        try:
            urllib.request.urlopen(req, timeout=5).close()
        except urllib.error.URLError as exc:
            raise LinkError(f"Toxiproxy reset failed: {exc}") from exc
        dirty = [n for n, p in self.proxies().items() if p["toxics"] or not p["enabled"]]
        if dirty:
            raise LinkError(f"after reset these links still have faults: {', '.join(dirty)}")
