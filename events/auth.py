"""Who may do what: roles and camera scopes, shared by the stored user/key records and the API.

A scope limits a user or an API key to some sites and/or cameras (a "camera group" is the list of
cameras it names). Empty on both counts means every camera. The API filters every route, the live
feed and exports by it; a scoped principal cannot learn that an out-of-scope camera exists.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

_NAME = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]


class Role(StrEnum):
    ADMIN = "admin"  # users, keys and everything else
    INTEGRATOR = "integrator"  # cameras, zones, rules, sensors and their status; no alert actions
    OPERATOR = "operator"  # alerts: view, acknowledge, assign, comment, escalate, resolve; snapshots
    AUDITOR = "auditor"  # history, exports, audit log; read only


class CameraScope(BaseModel):
    """Sites and cameras a principal may see; both empty = all cameras."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sites: tuple[_NAME, ...] = Field(default=(), description="site ids (a camera of one of them is in scope)")
    cameras: tuple[_NAME, ...] = Field(default=(), description="camera ids in scope, whatever their site")

    @property
    def unrestricted(self) -> bool:
        return not self.sites and not self.cameras

    def allows(self, camera_id: str, site_id: str | None) -> bool:
        """Whether a camera (of `site_id`, when known) is in scope."""
        if self.unrestricted:
            return True
        return camera_id in self.cameras or (site_id is not None and site_id in self.sites)

    def filter_ids(self, cameras: Iterable[tuple[str, str | None]]) -> list[str]:
        """The ids among (camera_id, site_id) pairs that are in scope, order kept."""
        return [camera_id for camera_id, site_id in cameras if self.allows(camera_id, site_id)]

    def describe(self) -> str:
        if self.unrestricted:
            return "all cameras"
        parts = [f"sites {','.join(self.sites)}"] if self.sites else []
        parts += [f"cameras {','.join(self.cameras)}"] if self.cameras else []
        return "; ".join(parts)


UNRESTRICTED = CameraScope()
