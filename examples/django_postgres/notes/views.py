"""Sign up (a row in auth_user) and write notes (rows in notes_note). Nothing here knows about
skene-cdc: capture happens in the database."""

import json

from django.contrib.auth import get_user_model, login
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from notes.models import Note


@csrf_exempt  # a JSON API for the example; use your usual CSRF/auth setup in a real app
@require_POST
def signup(request: HttpRequest) -> JsonResponse:
    data = json.loads(request.body)
    user = get_user_model().objects.create_user(
        username=data["username"], email=data["email"], password=data["password"],
        first_name=data.get("first_name", ""))
    login(request, user)  # a django_session row: not activity, init leaves it out
    return JsonResponse({"id": user.id}, status=201)


@csrf_exempt
@require_POST
def create_note(request: HttpRequest) -> JsonResponse:
    if not request.user.is_authenticated:
        return JsonResponse({"error": "log in first"}, status=401)
    note = Note.objects.create(user=request.user, title=json.loads(request.body)["title"])
    return JsonResponse({"id": note.id}, status=201)
