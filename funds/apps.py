from django.apps import AppConfig


class FundsConfig(AppConfig):
    name = "funds"
    verbose_name = "Funds, securities and NAV"
    default_auto_field = "django.db.models.BigAutoField"
