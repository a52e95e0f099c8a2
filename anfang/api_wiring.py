"""Wiring of what an API process serves besides the store: sign-in, the audit trail, alert state, the
live feed and (embedded) the admin socket through which `anfang users/keys/audit` reach the running
service. `anfang/commands.py` builds one `ApiServices` per process that serves the API.

Embedded: the live feed is the in-process broadcaster the pipeline's publisher also feeds.
Distributed: each API instance reads the events topic with its own Kafka consumer (no group commits)
into its own broadcaster.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from anfang.admin_socket import socket_path
from anfang.audit_commands import audit_chain_id, audit_verify_handler, open_audit_log, sql_runner
from anfang.auth_wiring import AuthParts, admin_handlers, build_auth, ensure_demo_operator, start_admin_socket
from anfang.face_wiring import FaceParts, face_api_kwargs
from anfang.reader_wiring import ReaderParts, hotlist_api_kwargs
from anfang.settings import Settings
from events.bus.broadcast import EventBroadcaster
from events.cameras import CameraRegistry
from events.ports import EventStore
from events.store.alert_state_sql import AlertStateSqlStore
from events.store.audit_sql import HashChainedAuditLog
from pipelines.sop import sop_lookup

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class ApiServices:
    """What `create_app` gets beyond the store, cameras, health and sensors; `close()` stops its threads."""

    auth: AuthParts
    audit: HashChainedAuditLog
    alert_states: AlertStateSqlStore
    broadcaster: EventBroadcaster
    rule_sops: Callable[[str, str], str] | None = None
    closers: list[Callable[[], None]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # faces and hotlists (face_/reader_wiring)

    def app_kwargs(self) -> dict[str, Any]:
        return {
            "authenticator": self.auth.authenticator,
            "auth_service": self.auth.service,
            "audit": self.audit,
            "audit_log": self.audit,
            "alert_states": self.alert_states,
            "broadcaster": self.broadcaster,
            "rule_sops": self.rule_sops,
            **self.extra,
        }

    def close(self) -> None:
        while self.closers:
            closer = self.closers.pop()
            with contextlib.suppress(Exception):
                closer()


def build_api_services(
    settings: Settings,
    store: EventStore,
    *,
    process: str,
    registry: CameraRegistry | None,
    broadcaster: EventBroadcaster | None = None,
    faces: FaceParts | None = None,
    readers: ReaderParts | None = None,
) -> ApiServices:
    """Sign-in, audit log, alert state (tables created when missing) and the live feed for one process.

    `broadcaster`: the embedded pipeline's (in-process fan-out); None in distributed mode, where a
    Kafka live feed of this instance's own fills a new one. `faces`: the process's face runtime (the
    biometric routes answer 503 without it); `readers`: its plate hotlists (the hotlist routes likewise).
    """
    runner = sql_runner(store)
    audit = open_audit_log(store, audit_chain_id(settings, process))
    auth = build_auth(settings, runner, audit)
    alert_states = AlertStateSqlStore(runner)
    alert_states.ensure_schema()
    services = ApiServices(
        auth=auth,
        audit=audit,
        alert_states=alert_states,
        broadcaster=broadcaster or EventBroadcaster(),
        rule_sops=sop_lookup(registry) if registry is not None else None,
    )
    try:
        if faces is not None:
            services.extra |= face_api_kwargs(faces, settings, store, audit, services.closers)
        if readers is not None:
            services.extra |= hotlist_api_kwargs(readers, settings, store, audit, services.closers)
        if broadcaster is None and settings.mode == "distributed":
            from events.bus.kafka_live import KafkaLiveFeed

            feed = KafkaLiveFeed(
                settings.kafka_bootstrap,
                services.broadcaster,
                topic=settings.kafka_events_topic,
                timeout_s=settings.connect_timeout_s,
            )
            feed.start()
            services.closers.append(feed.close)
        if settings.mode == "embedded":
            handlers = admin_handlers(auth, {"audit.verify": audit_verify_handler(audit)})
            services.closers.append(start_admin_socket(socket_path(settings.data_dir), handlers))
    except BaseException:
        services.close()
        raise
    return services


def announce_demo_sign_in(services: ApiServices, url: str) -> None:
    """When nobody can sign in yet: creates the demo operator and prints its password, once."""
    created = ensure_demo_operator(services.auth.service)
    if created is None:
        logger.info("sign in at %s with your user (add one: anfang users add --password-stdin ...)", url)
        return
    username, password = created
    sys.stdout.write(  # stdout, not the log: the password must not land in log files
        f"\n  Console: {url}\n  Sign in as {username!r} with password {password!r} (shown once; "
        "add an admin with: anfang users add --username NAME --role admin --password-stdin)\n\n"
    )
    sys.stdout.flush()
