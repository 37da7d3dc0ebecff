"""Hot read queries compiled to SQL once, then run with new parameter values.

Building and compiling a queryset costs far more CPU than running it: on every order placed
(bench/order_load.py) the token, Fund and idempotency queries spent most of their time in the ORM's
query building and SQL compilation. A ``PrecompiledQuery`` builds its queryset once per database
with placeholder values, keeps the compiled SQL and its compiler, and on each call runs the same SQL
with the real values in the placeholders' parameter slots. Rows become model instances through
Django's own ``ModelIterable`` (select_related objects, annotations and the database's converters
included), so the result is what evaluating ``build(**values)`` gives.

Only for queries whose SQL text does not depend on the values: no ``None`` (``IS NULL``), no
``__in`` lists of varying length, no values compared as another type. The placeholders must be of
the real values' type and appear nowhere else in the parameters; compilation checks that each is
found, and falls back to the plain queryset if not.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any

from django.db import connections, router
from django.db.models.query import ModelIterable


class _Compiled:
    __slots__ = ("compiler", "sql", "slots", "values_list")

    def __init__(self, compiler, sql: str, slots: list, values_list: bool):
        self.compiler, self.sql, self.slots, self.values_list = compiler, sql, slots, values_list


class _Rows:
    """The minimum of a QuerySet that ModelIterable reads."""

    _known_related_objects: dict = {}

    def __init__(self, db: str, model, compiler):
        self.db, self.model = db, model
        self.query = self
        self._compiler = compiler

    def get_compiler(self, using=None, connection=None, elide_empty=True):
        return self._compiler


class PrecompiledQuery:
    def __init__(self, model, build: Callable[..., Any], **placeholders: Any):
        self.model = model
        self._build = build
        self._placeholders = placeholders
        self._compiled: dict[tuple[str, str], _Compiled | None] = {}
        self._lock = threading.Lock()

    def _compile(self, alias: str) -> _Compiled | None:
        queryset = self._build(**self._placeholders)
        queryset = (queryset if queryset.ordered else queryset.order_by("pk"))[:1]  # as QuerySet.first()
        compiler = queryset.query.get_compiler(using=alias)
        sql, params = compiler.as_sql()  # also sets compiler.select, klass_info, annotation_col_map
        slots: list = []
        found = set()
        for value in params:
            slot = ("fixed", value)
            for name, placeholder in self._placeholders.items():
                if type(value) is type(placeholder) and value == placeholder:
                    slot = ("value", name)
                elif isinstance(value, str) and value == str(placeholder) and not isinstance(placeholder, str):
                    slot = ("str", name)  # e.g. a date adapted to text (SQLite)
                else:
                    continue
                found.add(name)
            slots.append(slot)
        if found != set(self._placeholders):
            return None
        return _Compiled(compiler, sql, slots, values_list=queryset._iterable_class is not ModelIterable)

    def _entry(self, alias: str) -> _Compiled | None:
        key = (alias, connections[alias].vendor)
        try:
            return self._compiled[key]
        except KeyError:
            with self._lock:
                if key not in self._compiled:
                    self._compiled[key] = self._compile(alias)
            return self._compiled[key]

    def first(self, **values: Any):
        """``build(**values).first()``."""
        alias = router.db_for_read(self.model)
        entry = self._entry(alias)
        if entry is None:
            return self._build(**values).first()
        params = tuple(
            value if kind == "fixed" else (values[value] if kind == "value" else str(values[value]))
            for kind, value in entry.slots
        )
        compiler = copy.copy(entry.compiler)
        compiler.connection, compiler.using = connections[alias], alias
        compiler.as_sql = lambda *args, **kwargs: (entry.sql, params)
        if entry.values_list:
            rows = list(compiler.results_iter(tuple_expected=True))
        else:
            rows = list(ModelIterable(_Rows(alias, self.model, compiler)))
        return rows[0] if rows else None


_INSERT_SQL: dict[tuple, tuple[str, list]] = {}


def insert_rows(model, objs: list) -> None:
    """Insert ``objs`` as ``model.objects.bulk_create(objs)`` would (no signals either), with the INSERT's
    SQL built once per (model, database, row count). Each value goes through its field's ``pre_save`` and
    ``get_db_prep_save``, as in Django's insert compiler. For rows whose objects are not used afterwards:
    the objects are left as they were (no primary key is read back). Values must be plain values, not
    expressions, and the primary key must be automatic."""
    alias = router.db_for_write(model)
    connection = connections[alias]
    key = (model, alias, connection.vendor, len(objs))
    try:
        sql, fields = _INSERT_SQL[key]
    except KeyError:
        opts = model._meta
        if not opts.auto_field or opts.pk is not opts.auto_field:
            raise ValueError(f"{model.__name__}: insert_rows needs an automatic primary key")
        fields = [f for f in opts.local_concrete_fields if f is not opts.auto_field]
        quote = connection.ops.quote_name
        row = "(" + ", ".join(["%s"] * len(fields)) + ")"
        sql = (
            f"INSERT INTO {quote(opts.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
            f"VALUES {', '.join([row] * len(objs))}"
        )
        _INSERT_SQL[key] = sql, fields
    params = []
    for obj in objs:
        obj._prepare_related_fields_for_save(operation_name="bulk_create")  # e.g. order_id of an order saved since
        for field in fields:
            value = field.pre_save(obj, True)
            if hasattr(value, "resolve_expression"):
                raise ValueError(f"{model.__name__}.{field.name}: insert_rows takes plain values, not expressions")
            params.append(field.get_db_prep_save(value, connection))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
