"""Hypothesis profiles for the property tests of what parses untrusted input.

`fast` (the default) keeps `make test` quick; `HYPOTHESIS_PROFILE=fuzz` (for `make fuzz`) runs
many more examples. No deadline (a slow shared machine is not a failure; a hang is caught by
pytest-timeout, TIMEOUT below); fixtures shared across examples are intended."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_SHARED = {"deadline": None,
           "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                     HealthCheck.data_too_large]}
settings.register_profile("fast", max_examples=80, database=None, **_SHARED)
settings.register_profile("fuzz", max_examples=5000, **_SHARED)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "fast")
settings.load_profile(PROFILE)
# Seconds a whole property test may take before pytest-timeout calls it a hang.
TIMEOUT = 3 * 3600 if PROFILE == "fuzz" else 300
