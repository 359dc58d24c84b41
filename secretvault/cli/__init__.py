"""The subcommands of ``manage.py secretvault``, one module per group.

``secretvault/management/commands/secretvault.py`` is only the entry point: it
asks :mod:`~secretvault.cli.registry` to build the parser and to dispatch.
Like every door (admin, API), a subcommand parses, finds the objects its
arguments name, calls :mod:`secretvault.services` and formats the answer; the
rules live in the core.

Modules:

- ``registry``: which modules make up the command (in ``--help`` order) and
  :func:`~secretvault.cli.registry.dispatch`, which turns the core's
  exceptions into one-line CLI errors.
- ``parsing``: the argparse plumbing shared by all subcommands
  (:class:`~secretvault.cli.parsing.Subcommands`, the ``-w/--workspace`` and
  ``--actor`` parents, Django's options accepted after the subcommand).
- ``session``: :class:`~secretvault.cli.session.Session`, what a handler
  talks to (stdout, stderr, stdin, verbosity) and the lookups every group
  shares (workspace, actor, secret, environments, ``--expires``).
- ``output``: formatting only (tables, timestamps, labels, the API's JSON
  representation); it prints nothing itself.
- the groups: ``workspaces`` (workspace, env), ``secrets`` (set ... stats),
  ``tokens``, ``transfer`` (export, import), ``run``, ``keys`` (generate-key,
  rotations), ``audit``.

Adding a subcommand (for example a ``member`` group, or ``run --watch``):

1. In a new module ``secretvault/cli/<group>.py`` (or the group's existing
   one), write ``register(commands: Subcommands) -> None`` that declares the
   arguments, and one handler per subcommand::

       def register(commands: Subcommands) -> None:
           members = commands.group("member", "add, list or remove workspace members")
           sub = members.add("add", "Give a user a role in a workspace.", handle_add,
                             *commands.in_workspace)
           sub.add_argument("username", metavar="USERNAME")

       def handle_add(session: Session, options: Options) -> None:
           # the --actor's reach: unknown workspace if out of it, refused without the codename
           workspace = session.workspace(options, "add_workspacemember")
           ...  # call services, then session.stdout.write(...)

   A handler raises ``CommandError`` for a CLI-specific failure (exit 1, or
   ``returncode=``); a ``ValidationError``, ``SecretVaultError``,
   ``ObjectDoesNotExist`` or ``DatabaseError`` from the core becomes a
   one-line error without help from the handler.
2. Add the module's name to :data:`~secretvault.cli.registry.MODULES` at the
   place its subcommands should appear in ``--help``.
3. Test it through ``Command().run_from_argv`` (see tests/test_command.py) and
   document it in docs/cli.md. Keep each module under ~300 lines.
"""
