from django.conf import settings
from django.db import models


class Note(models.Model):
    """What users do in this app: write notes. Table notes_note, user_id -> auth_user."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    title = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
