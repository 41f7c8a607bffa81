from django.urls import path
from notes import views

urlpatterns = [
    path("signup", views.signup),
    path("notes", views.create_note),
]
