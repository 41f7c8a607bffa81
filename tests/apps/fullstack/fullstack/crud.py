"""The template's CRUD functions: what its signup and item routes call."""

import os
import uuid

from sqlalchemy import Engine
from sqlmodel import Session, create_engine, select

from fullstack.models import Item, ItemCreate, User, UserCreate
from fullstack.security import get_password_hash, verify_password


def engine(url: str | None = None) -> Engine:
    url = url or os.environ["DATABASE_URL"]
    return create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))


def create_user(session: Session, user_create: UserCreate) -> User:
    db_obj = User.model_validate(user_create,
                                 update={"hashed_password": get_password_hash(user_create.password)})
    session.add(db_obj)
    session.commit()
    session.refresh(db_obj)
    return db_obj


def authenticate(session: Session, email: str, password: str) -> User | None:
    user = session.exec(select(User).where(User.email == email)).first()
    if user is None or not verify_password(password, user.hashed_password):
        return None
    return user


def update_password(session: Session, user: User, password: str) -> None:
    user.hashed_password = get_password_hash(password)
    session.add(user)
    session.commit()


def create_item(session: Session, item_in: ItemCreate, owner_id: uuid.UUID) -> Item:
    db_item = Item.model_validate(item_in, update={"owner_id": owner_id})
    session.add(db_item)
    session.commit()
    session.refresh(db_item)
    return db_item
