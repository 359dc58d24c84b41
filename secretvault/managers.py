"""QuerySets with the domain's verbs. Every rule here filters in SQL."""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, NamedTuple

from django.apps import apps
from django.db import connections, models
from django.db.models import (
    Aggregate,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Subquery,
    TextField,
    Value,
)
from django.db.models.functions import Cast, StrIndex
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from secretvault import crypto
from secretvault.conf import vault_settings

if TYPE_CHECKING:
    from typing_extensions import Self

    from secretvault.models import ServiceToken, Workspace


def _now(now: dt.datetime | None) -> dt.datetime:
    return now if now is not None else timezone.now()


def _tags(scope: str | Iterable[str]) -> list[str]:
    return [scope] if isinstance(scope, str) else list(scope)


class ExpiringQuerySet(models.QuerySet):
    """State verbs shared by secrets and tokens (both have expires_at and revoked_at)."""

    def active(self, now: dt.datetime | None = None) -> Self:
        """Not revoked, and not expired at ``now`` (expiry is exclusive: at the second, expired)."""
        return self.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=_now(now)), revoked_at__isnull=True)

    def expired(self, now: dt.datetime | None = None) -> Self:
        return self.filter(expires_at__lte=_now(now))

    def revoked(self) -> Self:
        return self.filter(revoked_at__isnull=False)

    def expiring_within(self, seconds: float, now: dt.datetime | None = None) -> Self:
        """Active now, and expiring at most ``seconds`` from now."""
        now = _now(now)
        return self.active(now).filter(expires_at__lte=now + dt.timedelta(seconds=seconds))

    def _env_through(self) -> type[models.Model]:
        raise NotImplementedError

    def _owner_field(self) -> str:
        raise NotImplementedError

    def global_only(self) -> Self:
        """Rows whose environment set is empty (they serve every environment)."""
        through = self._env_through()
        return self.filter(~Exists(through._default_manager.filter(**{self._owner_field(): OuterRef("pk")})))

    def for_env(self, slug: str | None) -> Self:
        """Global rows plus those naming the environment ``slug``; global only for ``None``."""
        if slug is None:
            return self.global_only()
        through = self._env_through()
        owner = self._owner_field()
        named = through._default_manager.filter(**{owner: OuterRef("pk"), "environment__slug": slug})
        anywhere = through._default_manager.filter(**{owner: OuterRef("pk")})
        return self.filter(Exists(named) | ~Exists(anywhere))

    def for_scope(self, scope: str | Iterable[str]) -> Self:
        """Unscoped rows plus those tagged with ``scope`` (a tag or any of several).

        ``scope`` is a JSON list; its text form holds each tag in double quotes,
        and tags cannot contain quotes, so a quoted substring match is an exact
        element match. ``StrIndex`` is case-sensitive on SQLite and PostgreSQL.
        """
        tags = _tags(scope)
        qs = self.alias(_scope_text=Cast("scope", output_field=TextField()))
        condition = Q(_scope_text="[]")
        for i, tag in enumerate(tags):
            name = f"_scope_hit_{i}"
            qs = qs.alias(**{name: StrIndex("_scope_text", Value(f'"{tag}"'))})
            condition |= Q(**{f"{name}__gt": 0})
        return qs.filter(condition)


class SecretQuerySet(ExpiringQuerySet):
    def _env_through(self) -> type[models.Model]:
        return apps.get_model("secretvault", "SecretEnvironment")

    def _owner_field(self) -> str:
        return "secret"

    def expiring_soon(self, now: dt.datetime | None = None) -> SecretQuerySet:
        return self.expiring_within(vault_settings.EXPIRING_SOON_SECONDS, now)

    def counts(self, now: dt.datetime | None = None) -> dict[str, int]:
        """``total``, ``active``, ``expired``, ``expiring_soon``, ``revoked``, in one query."""
        now = _now(now)
        soon = now + dt.timedelta(seconds=vault_settings.EXPIRING_SOON_SECONDS)
        live = Q(revoked_at__isnull=True) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        return self.aggregate(
            total=Count("pk"),
            active=Count("pk", filter=live),
            expired=Count("pk", filter=Q(expires_at__lte=now)),
            expiring_soon=Count("pk", filter=live & Q(expires_at__lte=soon)),
            revoked=Count("pk", filter=Q(revoked_at__isnull=False)),
        )

    def with_env_slugs(self) -> SecretQuerySet:
        return self.prefetch_related(
            models.Prefetch(
                "envs", queryset=apps.get_model("secretvault", "Environment").objects.order_by("slug")
            )
        )

    def with_current_ciphertext(self) -> SecretQuerySet:
        """Annotate ``current_ciphertext``: the current version's blob, in the same query."""
        version_model = apps.get_model("secretvault", "SecretVersion")
        current = version_model.objects.filter(
            secret=OuterRef("pk"), version=OuterRef("current_version")
        ).order_by()
        return self.annotate(current_ciphertext=Subquery(current.values("ciphertext")[:1]))

    def with_is_global(self) -> SecretQuerySet:
        through = self._env_through()
        return self.annotate(is_global=~Exists(through._default_manager.filter(secret=OuterRef("pk"))))

    def serving(self, workspace: Workspace, key: str, env: str | None) -> SecretQuerySet:
        """Candidates for a ``{key}`` route: for an env, its specific secret then the global one."""
        qs = self.filter(workspace=workspace, key=key)
        return qs.for_env(env) if env is not None else qs

    def resolve(
        self,
        workspace: Workspace,
        env: str | None = None,
        scope: str | Iterable[str] | None = None,
        now: dt.datetime | None = None,
    ) -> dict[str, ResolvedSecret]:
        """The map a service sees: ``{key: ResolvedSecret}``, in key order.

        Active secrets visible to ``env`` and ``scope``; an environment-specific
        secret overrides a global one of the same key. Without ``env``, global
        secrets only. Without ``scope``, secrets of every scope. One query, which
        also fetches each secret's current ciphertext; rows are plain tuples, not
        model instances, because this is every service's start-up path.
        """
        tags = None if scope is None else _tags(scope)
        now = _now(now)
        compiled = _compiled_resolve(self, env is not None, None if tags is None else len(tags))
        if compiled is not None:
            sql, params = compiled.bind(workspace.pk, now, env, tags or [])
            with connections[self.db].cursor() as cursor:
                cursor.execute(sql, params)
                rows: Iterable[tuple[Any, ...]] = cursor.fetchall()
        else:
            rows = self._resolve_rows(workspace.pk, now, env, tags)
        # Rows come globals first within each key, so an environment-specific one lands last and wins.
        make = tuple.__new__  # a NamedTuple without its keyword-handling __new__: this runs per secret
        rows = list(rows)
        try:  # the id as each driver gives it, converted inline: this runs per secret
            if rows and isinstance(rows[0][1], uuid.UUID):  # PostgreSQL
                return {
                    key: make(
                        ResolvedSecret, (key, raw_id.bytes, version, bool(is_global), bytes(ciphertext))
                    )
                    for key, raw_id, version, is_global, ciphertext in rows
                }
            fromhex = bytes.fromhex  # SQLite: 32 hex digits
            return {
                key: make(ResolvedSecret, (key, fromhex(raw_id), version, bool(is_global), bytes(ciphertext)))
                for key, raw_id, version, is_global, ciphertext in rows
            }
        except (AttributeError, TypeError, ValueError):  # another form: the general conversion
            return {
                key: make(
                    ResolvedSecret, (key, _uuid_bytes(raw_id), version, bool(is_global), bytes(ciphertext))
                )
                for key, raw_id, version, is_global, ciphertext in rows
            }

    def _resolve_rows(
        self, workspace_pk: Any, now: dt.datetime, env: str | None, tags: list[str] | None
    ) -> models.QuerySet[Any, tuple[Any, ...]]:
        """The resolve query: ``(key, raw id, version, is_global, ciphertext)`` rows."""
        qs: SecretQuerySet = self.filter(workspace_id=workspace_pk).active(now).for_env(env)
        if tags is not None:
            qs = qs.for_scope(tags)
        # The id as the driver returns it (a hex string on SQLite, a UUID on
        # PostgreSQL): building a UUID object per row costs more than the decryption.
        qs = qs.with_current_ciphertext().annotate(
            raw_id=ExpressionWrapper(F("id"), output_field=models.CharField())
        )
        if env is None:
            # Global secrets only: nothing to override, no need to ask.
            qs = qs.annotate(is_global=Value(True, output_field=models.BooleanField()))
            ordering = ["key"]
        else:
            qs = qs.with_is_global()
            ordering = ["key", "-is_global"]
        return qs.order_by(*ordering).values_list(
            "key", "raw_id", "current_version", "is_global", "current_ciphertext"
        )


#: Computes one SQL parameter of a compiled resolve from ``(workspace pk, now, env, tags)``.
_Binder = Callable[[Any, dt.datetime, Any, list[str]], Any]


def _bind_now_text(ops: Any) -> _Binder:
    return lambda ws, now, env, tags: ops.adapt_datetimefield_value(now)


def _bind_tag(index: int) -> _Binder:
    return lambda ws, now, env, tags: f'"{tags[index]}"'


def _bind_constant(constant: Any) -> _Binder:
    return lambda ws, now, env, tags: constant


class _CompiledResolve:
    """The resolve query compiled once, re-run with new parameters.

    Building and compiling the query costs more than running it, and it runs on
    every service's start-up and on every ``load``. The query is compiled with
    sentinel values; each parameter is then recognised as the workspace, the
    time, the environment, a scope tag, or a constant. Any doubt, and the
    caller keeps compiling every time (``None``).
    """

    WORKSPACE = uuid.UUID("5e5e5e5e-5e5e-4e5e-8e5e-5e5e5e5e5e5e")
    NOW = dt.datetime(2999, 12, 31, 23, 59, 58, 123457, tzinfo=dt.timezone.utc)
    ENV = "sentinel-env-5e5e"
    TAG = "sentinel-tag-5e5e-{}"

    def __init__(self, sql: str, binders: list[_Binder]) -> None:
        self.sql = sql
        self.binders = binders

    def bind(self, workspace_pk: Any, now: dt.datetime, env: str | None, tags: list[str]) -> tuple[str, list]:
        return self.sql, [binder(workspace_pk, now, env, tags) for binder in self.binders]

    @classmethod
    def build(
        cls, queryset: SecretQuerySet, env_given: bool, tag_count: int | None
    ) -> _CompiledResolve | None:
        tags = None if tag_count is None else [cls.TAG.format(i) for i in range(tag_count)]
        rows = queryset._resolve_rows(cls.WORKSPACE, cls.NOW, cls.ENV if env_given else None, tags)
        sql, params = rows.query.sql_with_params()
        ops = connections[queryset.db].ops
        now_text = ops.adapt_datetimefield_value(cls.NOW)
        if cls.WORKSPACE.hex in sql or "5e5e" in sql or str(now_text) in sql:
            return None  # a sentinel was inlined into the SQL: cannot rebind it
        tag_params = {f'"{tag}"': i for i, tag in enumerate(tags or [])}
        binders: list[_Binder] = []
        for param in params:
            if isinstance(param, uuid.UUID) and param == cls.WORKSPACE:
                binders.append(lambda ws, now, env, tags: ws)
            elif param == cls.WORKSPACE.hex:
                binders.append(lambda ws, now, env, tags: ws.hex)
            elif isinstance(param, dt.datetime) and param == cls.NOW:
                binders.append(lambda ws, now, env, tags: now)
            elif param == now_text:
                binders.append(_bind_now_text(ops))
            elif param == cls.ENV:
                binders.append(lambda ws, now, env, tags: env)
            elif isinstance(param, str) and param in tag_params:
                binders.append(_bind_tag(tag_params[param]))
            elif isinstance(param, (str, bytes)) and "5e5e" in str(param):
                return None  # a sentinel in a form not recognised
            else:
                binders.append(_bind_constant(param))
        return cls(sql, binders)


_compiled: dict[tuple[str, bool, int | None], _CompiledResolve | None] = {}


def _compiled_resolve(
    queryset: SecretQuerySet, env_given: bool, tag_count: int | None
) -> _CompiledResolve | None:
    shape = (queryset.db, env_given, tag_count)
    if shape not in _compiled:
        if len(_compiled) > 64:
            _compiled.clear()
        _compiled[shape] = _CompiledResolve.build(queryset, env_given, tag_count)
    return _compiled[shape]


def _uuid_bytes(value: Any) -> bytes:
    if isinstance(value, str):
        return bytes.fromhex(value if len(value) == 32 else value.replace("-", ""))
    return value.bytes


class ResolvedSecret(NamedTuple):
    """One entry of ``Secret.objects.resolve()``: identity, version and sealed value."""

    key: str
    id_bytes: bytes
    current_version: int
    is_global: bool
    current_ciphertext: bytes

    @property
    def id(self) -> uuid.UUID:
        return uuid.UUID(bytes=self.id_bytes)

    @property
    def pk(self) -> uuid.UUID:
        return self.id


class SecretManager(models.Manager.from_queryset(SecretQuerySet)):  # type: ignore[misc]  # dynamic base
    pass


class ServiceTokenQuerySet(ExpiringQuerySet):
    def _env_through(self) -> type[models.Model]:
        return apps.get_model("secretvault", "TokenEnvironment")

    def _owner_field(self) -> str:
        return "token"


# A digest that matches no token, compared when the token id is unknown so that
# an unknown id and a wrong secret cost the same work.
_NO_TOKEN_DIGEST = crypto.token_digest("0" * 16, "0" * 43)


class ServiceTokenManager(models.Manager.from_queryset(ServiceTokenQuerySet)):  # type: ignore[misc]  # dynamic base
    def create(self, **fields: Any) -> tuple[ServiceToken, str]:
        """Create a token; returns ``(token, raw)``. The raw token exists only here."""
        envs = fields.pop("envs", None)
        new = crypto.generate_token(vault_settings.TOKEN_PREFIX)
        token = self.model(token_id=new.token_id, digest=new.digest, **fields)
        token.save(force_insert=True, using=self.db)
        if envs:
            token.envs.set(envs)
        return token, new.raw

    def authenticate(self, raw: str, now: dt.datetime | None = None) -> ServiceToken | None:
        """The active token ``raw`` stands for, or ``None`` (``verify`` after ``crypto.parse_token``)."""
        parsed = crypto.parse_token(raw, vault_settings.TOKEN_PREFIX)
        if parsed is None:
            return None
        return self.verify(*parsed, now=now).token

    @sensitive_variables("secret")
    def verify(self, token_id: str, secret: str, now: dt.datetime | None = None) -> TokenCheck:
        """Check a parsed token: ``TokenCheck(token or None, whether the id exists)``.

        One indexed lookup by id (token and workspace columns, no model yet). A known
        id with a wrong secret and an unknown id do the same work: one digest, one
        constant-time comparison (against a digest that matches nothing when the id is
        unknown), no model built (issue #10.10). Models are built only once the digest
        matches; revocation and expiry are then judged in Python.
        """
        candidate = crypto.token_digest(token_id, secret)
        _, digest_index, _ = _token_layout()
        row = self._token_row(token_id)
        stored = row[digest_index] if row is not None else _NO_TOKEN_DIGEST
        if not crypto.digests_match(stored, candidate) or row is None:
            return TokenCheck(None, row is not None)
        token = _build_token(self.db, self._converted(row))
        return TokenCheck(token if token.is_active(now) else None, True)

    def _token_row(self, token_id: str) -> tuple[Any, ...] | None:
        """The token's and its workspace's columns (``_token_layout``), or ``None``.

        The query is compiled once per database alias and re-run with the new id:
        building and compiling it cost more than running it, on every request.
        """
        lookup = _token_lookups.get(self.db)
        if lookup is None:
            lookup = _token_lookups[self.db] = _TokenLookup.build(self)
        if lookup.sql is None:  # the id could not be rebound: the ORM compiles every time
            columns, _, _ = _token_layout()
            rows = self.get_queryset().filter(token_id=token_id).order_by().values_list(*columns)
            return next(iter(rows), None)
        return lookup.fetch(connections[self.db], token_id)

    def _converted(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        lookup = _token_lookups.get(self.db)
        if lookup is None or lookup.sql is None:
            return row  # from values_list: converted already
        return lookup.convert(connections[self.db], row)


class _TokenLookup:
    """The token lookup's SQL, compiled once, and its column converters (no connection kept)."""

    SENTINEL = "5e5e5e5e5e5e5e5e"

    def __init__(self, sql: str | None, converters: list[tuple[int, list[Any], Any]] | None = None) -> None:
        self.sql = sql
        self.converters = converters or []

    @classmethod
    def build(cls, manager: ServiceTokenManager) -> _TokenLookup:
        columns, _, _ = _token_layout()
        query = manager.get_queryset().filter(token_id=cls.SENTINEL).order_by().values_list(*columns).query
        compiler = query.get_compiler(using=manager.db)
        sql, params = compiler.as_sql()
        if list(params) != [cls.SENTINEL] or cls.SENTINEL in sql:
            return cls(None)
        fields = [select[0] for select in compiler.select[0 : compiler.col_count]]
        converters = compiler.get_converters(fields)
        return cls(sql, [(pos, convs, expression) for pos, (convs, expression) in converters.items()])

    def fetch(self, connection: Any, token_id: str) -> tuple[Any, ...] | None:
        """The row as the driver returns it (the digest needs no conversion), or ``None``."""
        with connection.cursor() as cursor:
            cursor.execute(self.sql, [token_id])
            return cursor.fetchone()

    def convert(self, connection: Any, row: tuple[Any, ...]) -> tuple[Any, ...]:
        """The row with Python values, as the ORM would give them (only once the digest matched)."""
        values = list(row)
        for pos, convs, expression in self.converters:
            value = values[pos]
            for converter in convs:
                value = converter(value, expression, connection)
            values[pos] = value
        return tuple(values)


_token_lookups: dict[str, _TokenLookup] = {}


class TokenCheck(NamedTuple):
    """What ``ServiceToken.objects.verify`` found: the active token, and whether the id exists."""

    token: ServiceToken | None
    known_id: bool


# Column layout of the token lookup: the token's concrete fields in model order (as
# ``Model.from_db`` takes them), then its workspace's.
def _token_models() -> tuple[type[ServiceToken], type[Workspace]]:
    """The token and workspace models, from the app registry (models.py imports this module)."""
    return apps.get_model("secretvault", "ServiceToken"), apps.get_model("secretvault", "Workspace")


@functools.cache
def _token_layout() -> tuple[tuple[str, ...], int, int]:
    """``(columns, index of the digest, number of token columns)``."""
    token_model, workspace_model = _token_models()
    token_fields = [f.attname for f in token_model._meta.concrete_fields]
    workspace_fields = [f"workspace__{f.attname}" for f in workspace_model._meta.concrete_fields]
    return (*token_fields, *workspace_fields), token_fields.index("digest"), len(token_fields)


def _build_token(db: str, row: tuple[Any, ...]) -> ServiceToken:
    token_model, workspace_model = _token_models()
    columns, _, split = _token_layout()
    token = token_model.from_db(db, list(columns[:split]), list(row[:split]))
    workspace_names = [column.removeprefix("workspace__") for column in columns[split:]]
    token.workspace = workspace_model.from_db(db, workspace_names, list(row[split:]))
    return token


class LoadState(NamedTuple):
    """What a ``load`` needs before it reads any secret (``WorkspaceHead.objects.load_state``).

    ``revision`` and ``last_expiry`` decide the ETag: between two writes (each
    moves ``revision``) the map changes only when a secret passes its
    ``expires_at``, and then the latest expiry instant already passed grows.
    """

    revision: int
    last_expiry: dt.datetime | None
    env_exists: bool | None
    token_env_slugs: frozenset[str] | None


class _SlugList(Aggregate):
    """Comma-joined slugs (slugs hold no comma): GROUP_CONCAT / STRING_AGG."""

    function = "GROUP_CONCAT"
    template = "%(function)s(%(expressions)s, ',')"
    output_field = TextField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return super().as_sql(compiler, connection, function="STRING_AGG", **extra)

    def as_mysql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return super().as_sql(compiler, connection, template="%(function)s(%(expressions)s SEPARATOR ',')")


class WorkspaceHeadQuerySet(models.QuerySet):
    def load_state(
        self,
        workspace_pk: Any,
        *,
        env: str | None = None,
        token_pk: Any = None,
        now: dt.datetime | None = None,
    ) -> LoadState:
        """The workspace's revision, its latest expiry at or before ``now``, whether
        environment ``env`` exists, and the slugs of token ``token_pk``'s environments.

        One query, answered from the head row and three index probes, whatever the
        number of secrets: a ``load`` revalidation runs this and the authentication
        query, nothing else (SPEC §10). ``env_exists`` is ``None`` without ``env``,
        ``token_env_slugs`` ``None`` without ``token_pk``. A workspace without a head
        row (no event recorded yet) has revision 0.
        """
        now = _now(now)
        connection = connections[self.db]
        if connection.vendor in _STATE_SQL_VENDORS:
            return _load_state_sql(connection, workspace_pk, env, token_pk, now)
        return self._load_state_orm(workspace_pk, env=env, token_pk=token_pk, now=now)

    def _load_state_orm(
        self, workspace_pk: Any, *, env: str | None, token_pk: Any, now: dt.datetime
    ) -> LoadState:
        """``load_state`` through the ORM: any database, but built and compiled on every call."""
        secret_model = apps.get_model("secretvault", "Secret")
        last_expiry = (
            secret_model.objects.filter(workspace_id=OuterRef("pk"), expires_at__lte=now)
            .order_by("-expires_at")
            .values("expires_at")[:1]
        )
        annotations: dict[str, Any] = {"last_expiry": Subquery(last_expiry)}
        if env is not None:
            environment_model = apps.get_model("secretvault", "Environment")
            annotations["env_exists"] = Exists(
                environment_model.objects.filter(workspace_id=OuterRef("pk"), slug=env)
            )
        if token_pk is not None:
            through = apps.get_model("secretvault", "TokenEnvironment")
            slugs = (
                through.objects.filter(token_id=token_pk)
                .order_by()
                .values("token_id")
                .annotate(slugs=_SlugList("environment__slug"))
                .values("slugs")
            )
            annotations["token_envs"] = Subquery(slugs)
        names = ["revision", *annotations]
        # From the workspace row, so that a workspace without a head row still answers.
        row = (
            apps.get_model("secretvault", "Workspace")
            .objects.filter(pk=workspace_pk)
            .annotate(revision=F("head__revision"))
            .annotate(**annotations)
            .order_by()
            .values_list(*names)
            .first()
        )
        found = dict(zip(names, row, strict=True)) if row is not None else {}
        token_envs = found.get("token_envs")
        return LoadState(
            revision=found.get("revision") or 0,
            last_expiry=found.get("last_expiry"),
            env_exists=None if env is None else bool(found.get("env_exists")),
            token_env_slugs=None
            if token_pk is None
            else frozenset(slug for slug in (token_envs or "").split(",") if slug),
        )


_STATE_SQL_VENDORS = ("sqlite", "postgresql")


def _state_sql(connection: Any, env_given: bool, token_given: bool) -> str:
    """The ``load_state`` query, written once per shape: building it with the ORM on every
    revalidation cost more than running it."""
    key = (connection.alias, connection.vendor, env_given, token_given)
    sql = _state_sql_cache.get(key)
    if sql is not None:
        return sql
    model = apps.get_model
    q = connection.ops.quote_name
    workspace, head = model("secretvault", "Workspace")._meta, model("secretvault", "WorkspaceHead")._meta
    secret, environment = model("secretvault", "Secret")._meta, model("secretvault", "Environment")._meta
    through = model("secretvault", "TokenEnvironment")._meta
    join = "STRING_AGG" if connection.vendor == "postgresql" else "GROUP_CONCAT"
    columns = [
        f"h.{q(head.get_field('revision').column)}",
        f"(SELECT s.{q('expires_at')} FROM {q(secret.db_table)} s"  # noqa: S608 - quoted names from _meta; values are parameters
        f" WHERE s.{q(secret.get_field('workspace').column)} = w.{q(workspace.pk.column)}"
        f" AND s.{q('expires_at')} <= %s ORDER BY s.{q('expires_at')} DESC LIMIT 1)",
    ]
    if env_given:
        columns.append(
            f"EXISTS(SELECT 1 FROM {q(environment.db_table)} e"  # noqa: S608 - quoted names from _meta; values are parameters
            f" WHERE e.{q(environment.get_field('workspace').column)} = w.{q(workspace.pk.column)}"
            f" AND e.{q('slug')} = %s)"
        )
    if token_given:
        columns.append(
            f"(SELECT {join}(e.{q('slug')}, ',') FROM {q(through.db_table)} te"  # noqa: S608 - quoted names from _meta; values are parameters
            f" INNER JOIN {q(environment.db_table)} e"
            f" ON e.{q(environment.pk.column)} = te.{q(through.get_field('environment').column)}"
            f" WHERE te.{q(through.get_field('token').column)} = %s)"
        )
    sql = (
        f"SELECT {', '.join(columns)} FROM {q(workspace.db_table)} w"  # noqa: S608 - quoted names from _meta; values are parameters
        f" LEFT OUTER JOIN {q(head.db_table)} h ON h.{q(head.pk.column)} = w.{q(workspace.pk.column)}"
        f" WHERE w.{q(workspace.pk.column)} = %s"
    )
    _state_sql_cache[key] = sql
    return sql


_state_sql_cache: dict[tuple[Any, ...], str] = {}


def _load_state_sql(
    connection: Any, workspace_pk: Any, env: str | None, token_pk: Any, now: dt.datetime
) -> LoadState:
    uuid_field = apps.get_model("secretvault", "Workspace")._meta.pk
    params: list[Any] = [connection.ops.adapt_datetimefield_value(now)]
    if env is not None:
        params.append(env)
    if token_pk is not None:
        params.append(uuid_field.get_db_prep_value(token_pk, connection))
    params.append(uuid_field.get_db_prep_value(workspace_pk, connection))
    with connection.cursor() as cursor:
        cursor.execute(_state_sql(connection, env is not None, token_pk is not None), params)
        row = cursor.fetchone()
    if row is None:
        return LoadState(0, None, None if env is None else False, None if token_pk is None else frozenset())
    values = list(row)
    revision, last_expiry = values[0] or 0, values[1]
    if isinstance(last_expiry, str):  # SQLite may hand datetimes back as text ...
        last_expiry = dt.datetime.fromisoformat(last_expiry)
    if last_expiry is not None and last_expiry.tzinfo is None:  # ... and naive (UTC, USE_TZ)
        last_expiry = last_expiry.replace(tzinfo=dt.timezone.utc)
    env_exists = None if env is None else bool(values[2])
    token_envs = None
    if token_pk is not None:
        token_envs = frozenset(slug for slug in (values[-1] or "").split(",") if slug)
    return LoadState(revision, last_expiry, env_exists, token_envs)


class AuditEventQuerySet(models.QuerySet):
    """Append-only: rows can be added, never changed or removed through the ORM."""

    def update(self, **kwargs: Any) -> int:
        from secretvault.errors import SecretVaultError

        raise SecretVaultError("Audit events are append-only; they cannot be updated.")

    def delete(self) -> tuple[int, dict[str, int]]:
        from secretvault.errors import SecretVaultError

        raise SecretVaultError("Audit events are append-only; they cannot be deleted.")

    delete.queryset_only = True  # type: ignore[attr-defined]  # Django's flag on a method
