"""Acme API: a FastAPI + Redis + Stripe app with freemium gating by skene-cdc.

Two lines do the work: the middleware meters POST /api/features/* (100 a period on the free
plan, unlimited on paid) and the mounted webhook keeps plans in step with Stripe. See README.md.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request

from skene_cdc.billing import stripe_webhook_app
from skene_cdc.freemium.asgi import FreemiumMiddleware

CONFIG = os.environ.get("SKENE_CONFIG", str(Path(__file__).with_name("skene.yaml")))


# PLACEHOLDER, not authentication: anyone can send `Authorization: Bearer 42` and be counted,
# blocked or unblocked as user 42. Replace current_user with your real authentication (a verified
# session or JWT) before this runs anywhere but your laptop.
def current_user(request: Request) -> str | None:
    """PLACEHOLDER, not authentication: trusts `Authorization: Bearer <user id>` as it comes."""
    token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    return token or None


app = FastAPI(title="Acme API")
app.add_middleware(FreemiumMiddleware, config=CONFIG, user_id=current_user)
app.mount("/stripe", stripe_webhook_app(CONFIG))  # POST /stripe/webhook


@app.post("/api/features/{name}")
def use_feature(name: str) -> dict[str, Any]:
    return {"feature": name, "result": "done"}


@app.get("/api/features")
def list_features() -> dict[str, Any]:
    return {"features": ["summarize", "translate", "export"]}
