"""Who is calling and what each role may do: the one table of permissions every route refers to.

Routes declare what they need with `api.deps.require(Permission.X)`; the RBAC matrix test reads those
declarations from the app, so a route without one (and not listed public) fails the tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, Protocol

from events.auth import UNRESTRICTED, CameraScope, Role


class Permission(StrEnum):
    EVENTS_READ = "events:read"  # history, one event, aggregates, event types
    ALERTS_READ = "alerts:read"  # alert lists, counts, the live feed
    ALERTS_ACT = "alerts:act"  # acknowledge, assign, comment, escalate, resolve
    SNAPSHOTS_READ = "snapshots:read"  # evidence images (personal data)
    EXPORTS = "exports"  # CSV / Parquet exports of history
    AUDIT_READ = "audit:read"  # the audit trail
    CAMERAS_READ = "cameras:read"  # cameras and their status
    CAMERAS_WRITE = "cameras:write"  # add / change / remove cameras, zones and rules
    SENSORS_READ = "sensors:read"
    SENSORS_WRITE = "sensors:write"  # sensor registry and readings ingest
    METRICS_READ = "metrics:read"  # Prometheus /metrics
    USERS_MANAGE = "users:manage"  # users and API keys
    FACES_READ = "faces:read"  # watchlists, identities and their enrolled faces (no vectors)
    FACES_ENROL = "faces:enrol"  # create / change / delete watchlists, enrol, add images, erase
    FACES_SEARCH = "faces:search"  # 1:N search by image
    EVIDENCE_UNMASK = "evidence:unmask"  # the unblurred original of a snapshot
    HOTLISTS_READ = "hotlists:read"  # plate hotlists and their entries
    HOTLISTS_WRITE = "hotlists:write"  # create / change / delete hotlists, add / remove entries


ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.INTEGRATOR: frozenset(
        {
            Permission.CAMERAS_READ,
            Permission.CAMERAS_WRITE,
            Permission.SENSORS_READ,
            Permission.SENSORS_WRITE,
            Permission.METRICS_READ,
            Permission.HOTLISTS_READ,  # to keep an external list in sync
            Permission.HOTLISTS_WRITE,
        }
    ),
    Role.OPERATOR: frozenset(
        {
            Permission.EVENTS_READ,
            Permission.ALERTS_READ,
            Permission.ALERTS_ACT,
            Permission.SNAPSHOTS_READ,
            Permission.CAMERAS_READ,
            Permission.SENSORS_READ,
            Permission.FACES_READ,
            Permission.FACES_SEARCH,
            Permission.HOTLISTS_READ,
        }
    ),
    Role.AUDITOR: frozenset(
        {
            Permission.EVENTS_READ,
            Permission.ALERTS_READ,
            Permission.SNAPSHOTS_READ,
            Permission.EXPORTS,
            Permission.AUDIT_READ,
            Permission.CAMERAS_READ,
            Permission.SENSORS_READ,
            Permission.FACES_READ,
            Permission.HOTLISTS_READ,
        }
    ),
}

PrincipalKind = Literal["user", "api_key"]


@dataclass(frozen=True, slots=True)
class Principal:
    """A signed-in user or an API key, as the request's credential proved it."""

    name: str  # username, or the key's id
    role: Role
    kind: PrincipalKind = "user"
    scope: CameraScope = UNRESTRICTED

    @property
    def actor(self) -> str:
        """How the audit trail names it."""
        return self.name if self.kind == "user" else f"key:{self.name}"

    def can(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]


class AuthenticationError(Exception):
    """No, an expired, a forged or a revoked credential (-> 401). The message says which, never the token."""


class Authenticator(Protocol):
    def authenticate(self, credential: str) -> Principal:
        """The principal a bearer credential (access token or API key) stands for, or AuthenticationError."""
        ...
