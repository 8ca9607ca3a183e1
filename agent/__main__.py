"""`python -m agent`: run the voice agent (embedded CPU profile unless told otherwise)."""

from __future__ import annotations

import argparse
import sys

from agent.config import DEFAULT_PROFILE, ConfigError, load_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agent", description=__doc__)
    parser.add_argument("--profile", default=DEFAULT_PROFILE, help="a configs/ name or a YAML path")
    parser.add_argument("--host", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default 7860)")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="e.g. tts.emotion=happy"
    )
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    overrides = list(args.set)
    if args.host:
        overrides.append(f"server.host={args.host}")
    if args.port is not None:
        overrides.append(f"server.port={args.port}")
    try:
        config = load_config(args.profile, overrides)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    import uvicorn
    from loguru import logger

    from agent.server import create_app
    from tts_plugin.engine import EngineError

    logger.remove()
    logger.add(sys.stderr, level=args.log_level.upper())
    try:
        app = create_app(config)
    except EngineError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(
        f"Voice agent on http://{config.server.host}:{config.server.port}/ "
        f"(profile {args.profile}; Ctrl+C stops)",
        file=sys.stderr,
    )
    uvicorn.run(app, host=config.server.host, port=config.server.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
