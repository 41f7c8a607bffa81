"""A tiny Flask + SQLAlchemy + PostgreSQL app in the Flask-SQLAlchemy style: the model `User` is
the table "user" (a reserved word in SQL), posts belong to an `author_id`, comments to a
`user_id`. skene-cdc needs no code in here.

Run:  DATABASE_URL=postgresql://localhost/app flask --app app run
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from flask import Flask, abort, request
from sqlalchemy import ForeignKey, String, Text, create_engine, func
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "user"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(120), unique=True)
    created_on: Mapped[datetime] = mapped_column(server_default=func.now())


class Post(Base):
    __tablename__ = "post"
    id: Mapped[int] = mapped_column(primary_key=True)
    body: Mapped[str] = mapped_column(String(140))
    timestamp: Mapped[datetime] = mapped_column(server_default=func.now(), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)


class Comment(Base):
    __tablename__ = "comment"
    id: Mapped[int] = mapped_column(primary_key=True)
    body: Mapped[str] = mapped_column(Text)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    post_id: Mapped[int] = mapped_column(ForeignKey("post.id"))
    created_on: Mapped[datetime] = mapped_column(server_default=func.now())


def sqlalchemy_url(url: str) -> str:
    return "postgresql+psycopg://" + url.split("://", 1)[1]


def create_app(database_url: str | None = None) -> Flask:
    app = Flask(__name__)
    engine = create_engine(sqlalchemy_url(database_url or os.environ["DATABASE_URL"]))
    Base.metadata.create_all(engine)  # a real app: Flask-Migrate / Alembic

    @app.post("/signup")
    def signup() -> tuple[dict[str, Any], int]:
        data = request.get_json()
        with Session(engine) as s, s.begin():
            user = User(username=data["username"], email=data["email"])
            s.add(user)
            s.flush()
            return {"id": user.id, "username": user.username}, 201

    @app.post("/users/<int:user_id>/posts")
    def post(user_id: int) -> tuple[dict[str, Any], int]:
        with Session(engine) as s, s.begin():
            if s.get(User, user_id) is None:
                abort(404)
            p = Post(body=request.get_json()["body"], author_id=user_id)
            s.add(p)
            s.flush()
            return {"id": p.id}, 201

    @app.post("/posts/<int:post_id>/comments")
    def comment(post_id: int) -> tuple[dict[str, Any], int]:
        data = request.get_json()
        with Session(engine) as s, s.begin():
            c = Comment(body=data["body"], user_id=data["user_id"], post_id=post_id)
            s.add(c)
            s.flush()
            return {"id": c.id}, 201

    app.extensions["engine"] = engine
    return app
