"""`anfang` command line: parses flags into Settings, runs a command, turns user errors into one line."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from anfang.settings import Settings

logger = logging.getLogger("anfang")


def user_error_types() -> tuple[type[Exception], ...]:
    """Exceptions that mean "the user's input or environment is wrong": one line, exit 2, no traceback."""
    from anfang.admin_socket import AdminCommandError
    from anfang.commands import UsageError
    from anfang.secrets import SecretsError
    from detectors.base import DetectorError
    from events.cameras import RegistryError
    from events.ports import BusError, StoreError
    from pipelines.config import ConfigError
    from pipelines.evidence import EvidenceError
    from pipelines.sources import SourceError

    return (
        ConfigError,
        SourceError,
        DetectorError,
        BusError,
        StoreError,
        EvidenceError,
        UsageError,
        RegistryError,
        AdminCommandError,
        SecretsError,
    )


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", type=Path, help="data folder (env ANFANG_DATA_DIR, default ./data)")
    common.add_argument("--config", type=Path, help="YAML config (env ANFANG_CONFIG_PATH)")
    common.add_argument(
        "--mode", choices=["embedded", "distributed"], help="env ANFANG_MODE (default embedded)"
    )
    common.add_argument("-v", "--verbose", action="store_true")
    serve = argparse.ArgumentParser(add_help=False)
    serve.add_argument("--host", help="API host (env ANFANG_API_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="API port (env ANFANG_API_PORT, default 8000)")
    replay = argparse.ArgumentParser(add_help=False)
    replay.add_argument(
        "--start-ts-ms", type=int, help="UTC ms of a recording's first frame (default: now, as if live)"
    )
    replay.add_argument(
        "--reseed",
        action="store_true",
        help="write the config's cameras over the camera registry (default: they seed an empty one only)",
    )

    p = argparse.ArgumentParser(prog="anfang", description="smart-security video analytics")
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser(
        "demo", parents=[common, serve, replay], help="embedded: pipeline + store + API in one"
    )
    d.add_argument("--once", action="store_true", help="exit after the video instead of serving on")
    pl = sub.add_parser(
        "pipeline", parents=[common, replay], help="decode, detect, apply rules, publish events"
    )
    pl.add_argument("--once", action="store_true", help="exit when every camera of this worker is done")
    s = sub.add_parser("sink", parents=[common], help="consume events from the bus into the store")
    s.add_argument("--exit-when-idle", type=float, metavar="S", help="exit after S seconds with no events")
    sub.add_parser("api", parents=[common, serve], help="serve the alert API and console")
    _add_sensors_parser(sub, common)
    _add_admin_parsers(sub, common)
    sc = sub.add_parser("schema", help="write the event JSON Schema")
    sc.add_argument("--out", type=Path, help="file to write (default: stdout)")
    return p


def _add_sensors_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    se = sub.add_parser(
        "sensors", parents=[common], help="distributed: sensor readings -> rules, alarms + video -> incidents"
    )
    se.add_argument(
        "--reseed", action="store_true", help="write the config's sensors over the sensor registry"
    )
    se.add_argument("--exit-when-idle", type=float, metavar="S", help="exit after S seconds with no message")


def _add_admin_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    from anfang import users_cli

    users_cli.add_parsers(sub, common)
    audit = sub.add_parser("audit", help="the audit trail")
    a = audit.add_subparsers(dest="action", required=True)
    a.add_parser(
        "verify",
        parents=[common],
        help="check every row's hash and link: exit 0 intact, 1 edited or deleted rows, 2 cannot check",
    )


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {
        "data_dir": getattr(args, "data_dir", None),
        "config_path": getattr(args, "config", None),
        "mode": getattr(args, "mode", None),
        "api_host": getattr(args, "host", None),
        "api_port": getattr(args, "port", None),
    }
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def run(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if getattr(args, "verbose", False) else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    if not getattr(args, "verbose", False):
        # Client libraries log their own retries with tracebacks; our errors already name the cause.
        for noisy in ("clickhouse_driver", "kafka"):
            logging.getLogger(noisy).setLevel(logging.ERROR)
    if args.command == "schema":
        from anfang.wiring import published_event_schema

        text = json.dumps(published_event_schema(), indent=2) + "\n"
        if args.out:
            args.out.write_text(text)
        else:
            sys.stdout.write(text)
        return 0

    from anfang import commands

    settings = _settings(args)
    if args.command in ("users", "keys", "audit") and not args.verbose:
        logging.getLogger().setLevel(logging.WARNING)  # the answer is the output; no store chatter
    if args.command in ("users", "keys"):
        from anfang import users_cli

        return users_cli.run(settings, args)
    if args.command == "audit":
        return _audit_verify(settings)
    if args.command == "demo":
        return commands.demo(settings, once=args.once, start_ts_ms=args.start_ts_ms, reseed=args.reseed)
    if args.command == "pipeline":
        return commands.pipeline(settings, start_ts_ms=args.start_ts_ms, once=args.once, reseed=args.reseed)
    if args.command == "sensors":
        return commands.sensor_hub(settings, reseed=args.reseed, exit_when_idle_s=args.exit_when_idle)
    if args.command == "sink":
        return commands.sink(settings, exit_when_idle_s=args.exit_when_idle)
    return commands.api(settings)


def _audit_verify(settings: Settings) -> int:
    """`anfang audit verify` (anfang/audit_commands.py); in embedded mode, while the service holds the
    data folder, it asks the service over the admin socket."""
    from anfang.admin_socket import (
        AdminCommandError,
        AdminSocketUnavailableError,
        call_admin_socket,
        socket_path,
    )
    from anfang.audit_commands import audit_verify

    def ask_service(request: dict[str, Any]) -> dict[str, Any]:
        try:
            return call_admin_socket(
                socket_path(settings.data_dir), str(request["command"]), request.get("args", {})
            )
        except (AdminSocketUnavailableError, AdminCommandError) as exc:
            raise OSError(str(exc)) from None

    return audit_verify(settings, ask_service=ask_service)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return run(argv)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        sys.stderr.write(f"anfang: error: setting {key}: {err['msg']}\n")
        return 2
    except Exception as exc:
        if isinstance(exc, user_error_types()):
            sys.stderr.write(f"anfang: error: {exc}\n")
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
