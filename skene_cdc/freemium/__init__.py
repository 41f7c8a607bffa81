"""Freemium gating: usage metered in Redis, 402 past the limit, one upgrade email per period.

Middleware for each framework lives in its own module so importing one never imports another:
`skene_cdc.freemium.asgi.FreemiumMiddleware` (FastAPI/Starlette), `.flask.Freemium`,
`.django.FreemiumMiddleware`, `.wsgi.FreemiumWSGI`. See docs/freemium.md."""

from skene_cdc.freemium.gate import Gate, Verdict

__all__ = ["Gate", "Verdict"]
