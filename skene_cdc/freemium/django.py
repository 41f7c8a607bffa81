"""Django middleware. In settings.py:

    MIDDLEWARE = [..., "django.contrib.auth.middleware.AuthenticationMiddleware",
                  "skene_cdc.freemium.django.FreemiumMiddleware", ...]
    SKENE_FREEMIUM = {"config": BASE_DIR / "skene.yaml",
                      "user_id": "myapp.billing.current_user_id"}   # optional

`user_id` is a callable (or its dotted path) taking the request and returning the user's id or
None; by default the authenticated `request.user.pk`. Other keys: `redis_url`, `database_url`,
`fail_open` (override skene.yaml)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from skene_cdc.freemium.gate import Gate
from skene_cdc.freemium.wsgi import gate_for


def authenticated_user_id(request: Any) -> str | None:
    user = getattr(request, "user", None)
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return str(user.pk)


class FreemiumMiddleware:
    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        from django.conf import settings
        from django.utils.module_loading import import_string

        self.get_response = get_response
        opts: dict[str, Any] = dict(getattr(settings, "SKENE_FREEMIUM", {}))
        uid = opts.get("user_id", authenticated_user_id)
        self.user_id: Callable[[Any], str | int | None] = \
            import_string(uid) if isinstance(uid, str) else uid
        gate = opts.get("gate")
        self.gate: Gate = gate_for(gate, opts.get("config"), opts.get("redis_url"),
                                   opts.get("database_url"), opts.get("fail_open"))

    def __call__(self, request: Any) -> Any:
        from django.http import HttpResponse

        rules = self.gate.match(request.method, request.path)
        if rules:
            uid = self.user_id(request)
            if uid is not None:
                verdict = self.gate.check(str(uid), request.method, request.path, rules)
                if verdict is not None:
                    response = HttpResponse(verdict.content(), status=verdict.status,
                                            content_type="application/json")
                    for name, value in verdict.headers:
                        response[name] = value
                    return response
        return self.get_response(request)
