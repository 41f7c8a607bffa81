"""A tiny FastAPI + PostgreSQL app: sign up, then do things. skene-cdc needs no code in here:
`skene-cdc migrate` attaches capture to `users` and `user_actions`, `skene-cdc listen` does the rest.

Run:  DATABASE_URL=postgresql://localhost/app uvicorn app:app --reload
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import psycopg
from fastapi import Depends, FastAPI, HTTPException
from psycopg.rows import dict_row
from pydantic import BaseModel

SCHEMA = Path(__file__).with_name("schema.sql")


def database_url() -> str:
    return os.environ["DATABASE_URL"]


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    with psycopg.connect(database_url(), autocommit=True) as conn:
        conn.execute(SCHEMA.read_text())
    yield


app = FastAPI(title="fastapi + postgres + skene-cdc example", lifespan=lifespan)


def db() -> Iterator[psycopg.Connection[dict[str, Any]]]:
    with psycopg.connect(database_url(), row_factory=dict_row) as conn:
        yield conn  # commits when the request handler returns without an error


Conn = Annotated[psycopg.Connection[dict[str, Any]], Depends(db)]


class SignUp(BaseModel):
    email: str
    name: str | None = None


class Action(BaseModel):
    action_type: str


@app.post("/signup", status_code=201)
def signup(body: SignUp, conn: Conn) -> dict[str, Any]:
    row = conn.execute("INSERT INTO users (email, name) VALUES (%s, %s) RETURNING id, email, name",
                       (body.email, body.name)).fetchone()
    assert row is not None
    return row


@app.post("/users/{user_id}/actions", status_code=201)
def act(user_id: int, body: Action, conn: Conn) -> dict[str, Any]:
    if conn.execute("SELECT 1 FROM users WHERE id = %s", (user_id,)).fetchone() is None:
        raise HTTPException(404, "no such user")
    row = conn.execute("INSERT INTO user_actions (user_id, action_type) VALUES (%s, %s) "
                       "RETURNING id, user_id, action_type", (user_id, body.action_type)).fetchone()
    assert row is not None
    return row


@app.get("/users/{user_id}/engagement")
def engagement(user_id: int, conn: Conn) -> dict[str, Any]:
    """What skene knows about the user (the view skene.users), e.g. to show a 'welcome back'."""
    row = conn.execute("SELECT user_id, last_activity_at, activity_this_week, plan "
                       "FROM skene.users WHERE user_id = %s", (str(user_id),)).fetchone()
    if row is None:
        raise HTTPException(404, "no such user")
    return row
