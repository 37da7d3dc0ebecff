"""Retention of regulated records (conditions A.9, B.8-B.9): refused deletes and immutable rows.

Enforced on the model and its queryset, so no entry point (admin, service, API, shell) can bypass it.
"""

from __future__ import annotations

from django.db import models

from backoffice.exceptions import InvalidTransition


class RetentionError(InvalidTransition):
    code = "retention_period"


class RetainedQuerySet(models.QuerySet):
    """Bulk deletes go through each row's retention check."""

    def delete(self):
        for row in self:
            row.check_deletable()
        return super().delete()


class ImmutableRecordQuerySet(RetainedQuerySet):
    """Immutable records (condition A.9 and the like): no bulk update either (``save`` refuses changes to a written row)."""

    def update(self, **kwargs):
        raise RetentionError(f"{self.model._meta.verbose_name} rows are immutable once written.")

    def bulk_update(self, objs, fields, batch_size=None):
        raise RetentionError(f"{self.model._meta.verbose_name} rows are immutable once written.")


class ImmutableRecord(models.Model):
    """A regulated record: written once by a service, never changed, deleted only after its retention period
    (subclasses define ``check_deletable``)."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise RetentionError(f"A {self._meta.verbose_name} is immutable once written.")
        return super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        self.check_deletable()
        return super().delete(*args, **kwargs)
