"""What a subcommand handler talks to: the streams, the verbosity and the shared lookups.

A lookup turns an option into an object or raises ``CommandError`` with the
message the CLI has always printed (``unknown workspace 'x'.``, ...), so every
group reports a bad name the same way.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterable
from typing import Any, TextIO

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError, OutputWrapper

from secretvault import access, bulk, services
from secretvault.access import Principal, Reach
from secretvault.audit import Actor
from secretvault.durations import ExpiryError, parse_expiry
from secretvault.errors import AmbiguousSecretError
from secretvault.models import Secret, Workspace

from .output import plain

Options = dict[str, Any]


class Session:
    """One run of the command: ``stdout`` for data, ``stderr`` for hints, ``stdin``.

    ``input_stream`` replaces ``sys.stdin`` (``call_command(...,
    input_stream=...)``); ``verbosity`` is Django's ``-v`` (0 silences
    :meth:`info`).
    """

    def __init__(
        self,
        stdout: OutputWrapper,
        stderr: OutputWrapper,
        verbosity: int = 1,
        input_stream: TextIO | None = None,
    ) -> None:
        self.stdout = stdout
        self.stderr = stderr
        self.verbosity = verbosity
        self.input_stream = input_stream

    @property
    def stdin(self) -> TextIO:
        return self.input_stream or sys.stdin

    # ------------------------------------------------------------------ streams

    def info(self, message: str) -> None:
        """A progress or hint line on stderr, so stdout stays clean for data."""
        if self.verbosity >= 1:
            self.stderr.write(message, style_func=plain)

    def read_stdin(self) -> str:
        """All of standard input as text; ``CommandError`` if it is not UTF-8."""
        stream = self.stdin
        raw: str | bytes = stream.buffer.read() if hasattr(stream, "buffer") else stream.read()
        if isinstance(raw, bytes):
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError:
                raise CommandError("standard input is not UTF-8 text.") from None
        return raw

    def confirm(self, question: str) -> None:
        """Ask ``question`` on the terminal; ``CommandError`` unless the answer is yes."""
        stream = self.stdin
        if not stream.isatty():
            raise CommandError("refusing to delete without confirmation: pass --yes (no terminal to ask on).")
        self.stderr.write(question, style_func=plain, ending="")
        self.stderr.flush()
        try:
            answer = stream.readline()
        except KeyboardInterrupt:
            answer = ""
        if answer.strip().lower() not in {"y", "yes"}:
            raise CommandError("aborted; nothing was deleted.")

    # ------------------------------------------------------------------ lookups

    def workspace(self, options: Options, *codenames: str) -> Workspace:
        """The workspace ``-w/--workspace`` names, if ``--actor`` (when given) reaches it.

        A workspace out of the actor's reach (``secretvault.access``) gets the very
        message of an unknown one. ``codenames`` are then required of the actor there
        (``AccessDeniedError``, which the dispatcher prints), as the API's
        ``required_permissions`` are (SPEC §9). An unknown or inactive ``--actor`` is
        refused before the workspace is looked up.
        """
        principal = self.principal(options)
        slug = options["workspace"]
        try:
            workspace = Workspace.objects.get(slug=slug)
        except Workspace.DoesNotExist:
            raise CommandError(f"unknown workspace {slug!r}.") from None
        if not principal.reaches(workspace):
            raise CommandError(f"unknown workspace {slug!r}.")
        principal.require(workspace, *codenames)
        return workspace

    def principal(self, options: Options) -> Principal:
        """Who ``--actor`` is to the reach rule (``secretvault.access``); the system without it."""
        return access.principal_for_actor(self.actor(options))

    def reach(self, workspace: Workspace, options: Options) -> Reach:
        """The ``--actor``'s reach in ``workspace`` (unrestricted without ``--actor``)."""
        return self.principal(options).reach(workspace)

    def actor(self, options: Options) -> Actor:
        """The active user ``--actor`` names, or the system (no ``--actor``); looked up once."""
        username = options.get("actor")
        if not username:
            return Actor()
        cached = options.get("_actor")
        if isinstance(cached, Actor):
            return cached
        user_model = get_user_model()
        try:
            user = user_model._default_manager.get(**{user_model.USERNAME_FIELD: username})
        except user_model.DoesNotExist:
            raise CommandError(f"--actor: unknown user {username!r}.") from None
        if not user.is_active:
            raise CommandError(f"--actor: user {username!r} is inactive.")
        options["_actor"] = Actor(user=user)
        return options["_actor"]

    def check_envs(
        self,
        workspace: Workspace,
        slugs: Iterable[str | None],
        options: Options,
        codename: str = "view_secret",
    ) -> list[str]:
        """The given environment slugs, sorted and unique; raises if one cannot be used.

        An actor whose ``codename`` is limited to some environments is refused any other
        one (``AccessDeniedError``) before existence is checked, so a name outside its
        reach gets the same answer whether it exists or not (SPEC §9, as the API's
        ``check_env``); otherwise an unknown slug is a ``ValidationError``.
        """
        wanted = sorted({slug for slug in slugs if slug})
        self.reach(workspace, options).check_named_envs(wanted, codename)
        services.environments_by_slug(workspace, wanted)
        return wanted

    def secret(self, workspace: Workspace, options: Options, codename: str = "view_secret") -> Secret:
        """The secret ``KEY [--env E]`` names (environment-specific first, then global).

        Only secrets the ``--actor`` sees take part: one out of its sight gets the very
        message of a missing key (SPEC §9). Without ``--env``, an actor limited to one
        environment looks in that one (as the API does).
        """
        key, env = options["key"], options.get("env")
        reach = self.reach(workspace, options)
        self.check_envs(workspace, [env], options, codename)
        if env is None:
            env = reach.default_env(codename)
        try:
            secret = services.find_secret(workspace, key, env, actor=self.actor(options))
        except Secret.DoesNotExist:
            where = f" serving environment {env!r}" if options.get("env") else ""
            raise CommandError(f"no secret {key!r}{where} in workspace {workspace.slug!r}.") from None
        except AmbiguousSecretError:
            raise CommandError(
                f"several secrets of key {key!r} serve different environments; choose one with --env."
            ) from None
        secret.workspace = workspace
        return secret


def expiry(text: str | None) -> dt.datetime | None:
    """``--expires WHEN`` as an aware datetime (``None``: not given, or ``never``)."""
    if text is None:
        return None
    try:
        return parse_expiry(text)
    except ExpiryError as exc:
        raise CommandError(f"--expires: {exc}") from None


def secrets_with_envs(
    workspace: Workspace, keys: list[str], envs: list[str], actor: Actor | None = None
) -> dict[str, Secret]:
    """``{key: secret}`` for the secrets of ``keys`` serving exactly ``envs`` (``[]``: global),
    among those ``actor`` sees (``bulk.secrets_serving_exactly``)."""
    return bulk.secrets_serving_exactly(workspace, keys, envs, actor)
