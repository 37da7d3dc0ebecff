"""Protected Securities in the admin: Portfolio Managers designate and end; Compliance reads."""

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from baskets import services
from baskets.models import ProtectedSecurity


@admin.register(ProtectedSecurity)
class ProtectedSecurityAdmin(SimpleHistoryAdmin):
    list_display = ["fund", "security", "effective_from", "effective_to", "designated_by", "ended_by"]
    list_filter = ["fund", "effective_from"]
    search_fields = ["security__ticker", "fund__ticker", "reason"]
    list_select_related = ["fund", "security", "designated_by", "ended_by"]
    autocomplete_fields = ["security"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["fund", "security", "effective_from", "effective_to", "reason"]
        return ["fund", "security", "effective_from", "reason", "designated_by", "designated_at", "effective_to", "end_reason", "ended_by"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        # Once designated, only ending the protection can change: effective_to with its reason.
        return ["fund", "security", "effective_from", "reason", "designated_by", "designated_at", "ended_by"]

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            saved = services.protected_security_end(
                designation_id=obj.pk, last_day=data["effective_to"], reason=data.get("end_reason", ""), actor=request.user
            )
        else:
            saved = services.protected_security_designate(
                fund_id=data["fund"].pk, security_id=data["security"].pk, effective_from=data["effective_from"],
                effective_to=data.get("effective_to"), reason=data["reason"], actor=request.user,
            )
        obj.pk = saved.pk

    def has_delete_permission(self, request, obj=None):
        return False
