#!/usr/bin/env python3
"""Run the standing attack suite (issue 15) against real parts and print what held.

Every attack starts its own targets: a relay process on a free loopback port with a bystander
call through it, or a real ``avatarchat call`` victim for the hostile aiortc peer. The test
suite runs the same attacks for about a second each (``tests/attack``); this runs them longer.

    python scripts/attack.py                       # every attack, 20 s each
    python scripts/attack.py --seconds 60 --only relay_room_flood --json out/attack.json

Exit status: 0 when every attack held, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from dataclasses import asdict

from netlab.attacks import ATTACKS, run_attacks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="budget per attack")
    parser.add_argument("--only", action="append", choices=sorted(ATTACKS), help="repeatable")
    parser.add_argument("--json", metavar="OUT", help="write every result as JSON here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    results = asyncio.run(run_attacks(args.seconds, args.only))
    for result in results:
        print(result.line(), flush=True)
    held = sum(r.held for r in results)
    print(f"{held} of {len(results)} attacks held")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(
                {"seconds": args.seconds, "results": [asdict(r) for r in results]}, f, indent=1
            )
    return 0 if held == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
