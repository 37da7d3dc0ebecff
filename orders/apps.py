from django.apps import AppConfig


class OrdersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "orders"
    verbose_name = "Authorized Participants and orders"

    def ready(self):
        # Delivery at the release time of every committed Publication (the lower app announces it).
        from baskets.services.dissemination import publication_committed
        from orders.dissemination import publication_committed_schedule

        publication_committed.connect(publication_committed_schedule, dispatch_uid="orders.dissemination.schedule")
