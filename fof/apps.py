from django.apps import AppConfig


class FofConfig(AppConfig):
    """Funds of funds: the Investing Funds of section V of application 812-15070 (conditions B.1-B.12)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "fof"
    verbose_name = "Investing Funds (fund of funds)"
