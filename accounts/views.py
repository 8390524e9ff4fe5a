from django.views.generic import TemplateView


class PasswordSentView(TemplateView):
    template_name = "accounts/password_sent.html"
