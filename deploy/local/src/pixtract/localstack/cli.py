"""`python -m pixtract.localstack up|down|status`: the whole system in the foreground."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from pixtract.localstack.config import SERVICES, StackConfig, StackError
from pixtract.localstack.lock import RunLock, StackAlreadyRunning
from pixtract.localstack.process import pid_alive
from pixtract.localstack.stack import Component, ComponentFailed, Stack

EXIT_NOT_RUNNING = 3


class _Interrupted(Exception):
    """SIGINT or SIGTERM arrived: stop what runs and leave."""


def _raise_interrupted(signum: int, frame: FrameType | None) -> None:
    raise _Interrupted(signal.Signals(signum).name)


def _say_still_stopping(signum: int, frame: FrameType | None) -> None:
    print("still stopping, please wait...", file=sys.stderr, flush=True)


def _print_component(component: Component) -> None:
    print(
        f"{component.name:<11} {component.url:<52} pid {component.pid:<7} log {component.log_path}",
        flush=True,
    )


def _write_state(config: StackConfig, stack: Stack) -> None:
    state = {
        "pid": os.getpid(),
        "ingress_url": stack.endpoints.ingress_url,
        "components": [
            {"name": c.name, "url": c.url, "pid": c.pid, "log": str(c.log_path)} for c in stack.components()
        ],
    }
    tmp = config.state_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2) + "\n")
    tmp.replace(config.state_file)


def _up(config: StackConfig, services: tuple[str, ...], with_ingress: bool) -> int:
    config = dataclasses.replace(config, services=services)
    stack = Stack(config, on_ready=_print_component)
    try:
        stack.acquire_lock()
    except StackAlreadyRunning as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    # A crashed run may have left its state behind; the lock just proved it dead.
    config.state_file.unlink(missing_ok=True)
    previous = {sig: signal.signal(sig, _raise_interrupted) for sig in (signal.SIGINT, signal.SIGTERM)}
    t0 = time.monotonic()
    code = 0
    try:
        print(f"starting the Pixtract local stack, data in {config.data_dir}", flush=True)
        stack.start_infra()
        if services:
            stack.start_services()
        if with_ingress:
            stack.start_ingress()
        _write_state(config, stack)
        entry = stack.endpoints.ingress_url if with_ingress else stack.endpoints.s3_endpoint
        print(f"Pixtract is up at {entry} (started in {time.monotonic() - t0:.1f} s); Ctrl-C stops it", flush=True)
        _watch(stack)
    except _Interrupted:
        print("\nstopping...", flush=True)
    except ComponentFailed as exc:
        print(f"error: {exc.component} failed to start: {exc.reason}", file=sys.stderr)
        print(f"--- last lines of {exc.log_path} ---\n{exc.log_tail}", file=sys.stderr)
        code = 1
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = 1
    finally:
        # A second Ctrl-C must not abandon half-stopped servers.
        for sig in previous:
            signal.signal(sig, _say_still_stopping)
        stack.stop()
        config.state_file.unlink(missing_ok=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("stopped", flush=True)
    return code


def _watch(stack: Stack) -> None:
    """Sleep until a signal; report a component that dies meanwhile (the rest keeps running)."""
    reported: set[str] = set()
    while True:
        time.sleep(1.0)
        for name, proc in stack.processes.items():
            if name not in reported and proc.started and not proc.running:
                reported.add(name)
                print(
                    f"warning: {name} exited with code {proc.returncode}; see {proc.log_path}",
                    file=sys.stderr,
                    flush=True,
                )


def _down(config: StackConfig, timeout: float) -> int:
    holder = RunLock(config.lock_file).holder()
    if holder is None:
        print("the Pixtract local stack is not running")
        return 0
    try:
        os.kill(holder.pid, signal.SIGTERM)
    except PermissionError:
        print(f"error: pid {holder.pid} runs the stack but belongs to another user", file=sys.stderr)
        return 1
    print(f"stopping the local stack (pid {holder.pid})...", flush=True)
    deadline = time.monotonic() + timeout
    while holder.alive():
        if time.monotonic() > deadline:
            print(f"error: pid {holder.pid} still runs after {timeout:.0f} s", file=sys.stderr)
            return 1
        time.sleep(0.2)
    print("stopped")
    return 0


def _status(config: StackConfig) -> int:
    holder = RunLock(config.lock_file).holder()
    if holder is None:
        print("the Pixtract local stack is not running")
        return EXIT_NOT_RUNNING
    print(f"the Pixtract local stack runs: pid {holder.pid}, started {holder.started_at}, data in {config.data_dir}")
    try:
        state = json.loads(config.state_file.read_text())
    except (OSError, ValueError):
        print("(still starting: no component list yet)")
        return 0
    for c in state.get("components", []):
        alive = "running" if pid_alive(int(c["pid"])) else "EXITED"
        print(f"{c['name']:<11} {c['url']:<52} pid {c['pid']:<7} {alive:<8} log {c['log']}")
    print(f"ingress: {state.get('ingress_url')}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pixtract.localstack", description=__doc__)
    parser.add_argument("--data-dir", type=Path, help="default: $PIXTRACT_DATA_DIR or <repo>/.data")
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start everything in the foreground; Ctrl-C stops it")
    up.add_argument(
        "--services",
        default=",".join(SERVICES),
        help="comma-separated services to run (default: all); empty for none",
    )
    up.add_argument("--infra-only", action="store_true", help="only S3, Kafka, MongoDB and OpenSearch")
    down = commands.add_parser("down", help="stop a running `up`")
    down.add_argument("--timeout", type=float, default=60.0)
    commands.add_parser("status", help="show what runs")
    args = parser.parse_args(argv)

    try:
        config = StackConfig.from_env(args.data_dir)
        if args.command == "up":
            services = () if args.infra_only else tuple(s for s in args.services.split(",") if s.strip())
            return _up(config, tuple(s.strip() for s in services), with_ingress=not args.infra_only)
        if args.command == "down":
            return _down(config, args.timeout)
        return _status(config)
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
