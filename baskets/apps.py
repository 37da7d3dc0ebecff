from django.apps import AppConfig


class BasketsConfig(AppConfig):
    name = "baskets"
    verbose_name = "Baskets and Protected Securities"
    default_auto_field = "django.db.models.BigAutoField"
