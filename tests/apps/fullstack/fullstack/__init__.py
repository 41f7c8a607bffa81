"""A FastAPI full-stack-template-shaped backend: models, password hashing, CRUD."""
