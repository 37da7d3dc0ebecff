from django.apps import AppConfig


class BackofficeConfig(AppConfig):
    name = "backoffice"
    verbose_name = "Back office"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        _build_history_managers_once()


def _build_history_managers_once() -> None:
    """django-simple-history's ``Model.history`` builds its manager class (``Manager.from_queryset``, which
    inspects every queryset method) on each access, and it is accessed for every history row written: about
    3% of the CPU of an order placed (bench/order_load.py). The class depends only on the descriptor, so it
    is built once per descriptor; each access still gets a new manager, as before."""
    from simple_history.manager import HistoryDescriptor

    if getattr(HistoryDescriptor, "_builds_manager_class_once", False):
        return

    def __get__(self, instance, owner):
        manager_class = self.__dict__.get("_manager_class")
        if manager_class is None:
            manager_class = self._manager_class = self.manager_class.from_queryset(self.queryset_class)
        return manager_class(self.model, instance)

    HistoryDescriptor.__get__ = __get__
    HistoryDescriptor._builds_manager_class_once = True
