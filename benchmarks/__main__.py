"""``python -m benchmarks [--quick] [--json]``: secretvault beside its baselines, in one run."""

from benchmarks.run import main

if __name__ == "__main__":
    raise SystemExit(main())
