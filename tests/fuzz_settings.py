"""Hypothesis profiles, defined once for every property-based test (this project's and any added
later, e.g. the webhook's): `HYPOTHESIS_PROFILE=fuzz` (what `make fuzz` sets) runs the long
profile; otherwise the short one keeps `make test` fast. tests/conftest.py imports this module,
so the chosen profile is active in every test file.

`FUZZ_TIMEOUT` is the per-test budget to pass to `pytest.mark.timeout`: an input that makes the
code under test hang fails the test instead of stalling the suite."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# deadline=None: the machines are shared and slow examples are not failures by themselves; a
# real hang is caught by FUZZ_TIMEOUT. derandomize in the short profile: `make test` explores the
# same examples on every run (no flaky CI), while `make fuzz` explores new ones each time.
settings.register_profile("default", max_examples=40, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("fuzz", max_examples=3000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "default")
settings.load_profile(PROFILE)

FUZZ_TIMEOUT = 3600 if PROFILE == "fuzz" else 120
