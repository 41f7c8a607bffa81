"""The FastAPI app `bench.gate` loads with and without the freemium middleware
(SKENE_BENCH_GATE=1 adds it), served by uvicorn in its own process."""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI, Request

app = FastAPI()

if os.environ.get("SKENE_BENCH_GATE") == "1":
    from skene_cdc.freemium.asgi import FreemiumMiddleware

    def current_user(request: Request) -> str | None:
        return request.headers.get("x-user")

    app.add_middleware(FreemiumMiddleware, config=os.environ["SKENE_CONFIG"],
                       user_id=current_user)


@app.post("/api/features/{name}")
async def use_feature(name: str) -> dict[str, Any]:
    return {"feature": name, "result": "done"}
