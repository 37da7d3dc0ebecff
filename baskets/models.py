"""Protected Securities: what a Fund keeps out of its Substitute Basket.

The application (section I) defines them as securities the portfolio managers
are actively looking to buy or sell, or whose disclosure could invite
front-running or free-riding. Visible only to Portfolio Managers and Compliance.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords


class ProtectedSecurityQuerySet(models.QuerySet):
    def in_force(self, on: dt.date):
        """Designations effective on ``on``: from effective_from through effective_to, both included."""
        return self.filter(effective_from__lte=on).filter(Q(effective_to__isnull=True) | Q(effective_to__gte=on))


class ProtectedSecurity(models.Model):
    fund = models.ForeignKey("funds.Fund", on_delete=models.PROTECT, related_name="protected_securities")
    security = models.ForeignKey("funds.Security", on_delete=models.PROTECT, related_name="protected_designations")
    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True, help_text="Last day protected, included. Empty: until ended.")
    reason = models.TextField(help_text="Why disclosure would harm the Fund (e.g. position being built or sold).")
    designated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    designated_at = models.DateTimeField(auto_now_add=True)
    ended_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    end_reason = models.TextField(blank=True)
    history = HistoricalRecords()

    objects = ProtectedSecurityQuerySet.as_manager()

    class Meta:
        ordering = ["fund", "security__ticker", "-effective_from"]
        verbose_name_plural = "protected securities"
        indexes = [models.Index(fields=["fund", "effective_from"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True) | Q(effective_to__gte=models.F("effective_from")),
                name="protected_security_ends_after_it_starts",
            ),
        ]

    def __str__(self) -> str:
        until = self.effective_to.isoformat() if self.effective_to else "open"
        return f"{self.security} protected in {self.fund} {self.effective_from.isoformat()}..{until}"
