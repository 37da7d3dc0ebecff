"""The project's base for history-tracked admin classes.

django-simple-history's history page accepts a POST that saves the form (a "revert") after checking
only the *view* permission, so a read-only role could write a record and bypass the services. Every
admin class of the project derives from ``HistoryAdmin``, whose history pages are read-only.
"""

from django.core.exceptions import PermissionDenied
from simple_history.admin import SimpleHistoryAdmin


class HistoryAdmin(SimpleHistoryAdmin):
    def revert_disabled(self, request, obj=None):
        return True

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method == "POST":
            raise PermissionDenied("History is read-only: change the record through its own form.")
        return super().history_form_view(request, object_id, version_id, extra_context)
