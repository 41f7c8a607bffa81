"""`python -m bench`: every benchmark, one after another, each printing its own table."""

from __future__ import annotations

import importlib
import sys

# In the order a reader meets the product: capture cost, listener, disk over days (soak),
# loops, email, logical, freemium gate. Modules that do not exist in this build are skipped with a note.
MODULES = ["capture_overhead", "listener", "soak", "backfill", "retention", "sender", "logical",
           "gate"]


def main() -> None:
    only = sys.argv[1:]
    for name in MODULES:
        if only and name not in only:
            continue
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"bench.{name}":
                print(f"\n## {name}: not in this build, skipped")
                continue
            raise
        print(f"\n## {name}\n", flush=True)
        module.main([])


if __name__ == "__main__":
    main()
