"""Each rule's SOP (standard operating procedure), looked up for the alerts the API serves.

The API knows an alert's camera and rule ids; the SOP lives in that rule's config (`RuleBase.sop`). The
composition root passes `sop_lookup(registry)` to the API as `rule_sops`: it reads the camera registry
at call time, so an SOP edited through `/v1/cameras` shows with the next alert list. `sops_from_config`
does the same from the YAML alone (a process without a registry).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from events.cameras import CameraRegistry, RegistryError
from pipelines.config import AppConfig

logger = logging.getLogger(__name__)

#: (camera_id, rule_id) -> the rule's SOP text ("" when it has none or is unknown).
SopLookup = Callable[[str, str], str]


def rule_sop(spec: Mapping[str, Any], rule_id: str) -> str:
    """The SOP of rule `rule_id` in a camera spec (the registry's JSON form of a camera config)."""
    rules = spec.get("rules")
    if not isinstance(rules, list):
        return ""
    for rule in rules:
        if isinstance(rule, Mapping) and rule.get("id") == rule_id:
            sop = rule.get("sop")
            return sop if isinstance(sop, str) else ""
    return ""


def sop_lookup(registry: CameraRegistry) -> SopLookup:
    """SOPs read from the camera registry on each call (an unreachable registry reads as no SOP)."""

    def lookup(camera_id: str, rule_id: str) -> str:
        try:
            record = registry.get(camera_id)
        except RegistryError as exc:
            logger.warning("SOP of %s/%s unavailable: camera registry: %s", camera_id, rule_id, exc)
            return ""
        return "" if record is None else rule_sop(record.spec, rule_id)

    return lookup


def sops_from_config(config: AppConfig) -> SopLookup:
    """SOPs of the YAML's cameras, fixed at start."""
    table = {(camera.id, rule.id): rule.sop for camera in config.cameras for rule in camera.rules if rule.sop}

    def lookup(camera_id: str, rule_id: str) -> str:
        return table.get((camera_id, rule_id), "")

    return lookup
