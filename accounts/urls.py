from django.urls import path

from accounts import views

app_name = "accounts"
urlpatterns = [
    path("password-sent/", views.PasswordSentView.as_view(), name="password_sent"),
]
