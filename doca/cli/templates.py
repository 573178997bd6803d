"""Go text/templates as the docker CLI's ``--format`` flags take them.

The subset the docker CLI's users write: ``{{.Field}}``, nested ``.A.B``, method fields with
arguments (``{{.Label "k"}}``), pipes (``{{.Names | upper}}``), variables, ``if``/``else if``/
``else``, ``range`` (with ``break``/``continue``), ``with``, comments, trim markers, Go's
builtins (``index``, ``len``, ``printf``, ``eq`` …) and docker's functions (``json``,
``split``, ``join``, ``title``, ``lower``, ``upper``, ``pad``, ``truncate``, ``println``).
``define``/``template``/``block`` are not supported.

Data is either the engine's JSON (maps looked up by key, as ``docker inspect`` reads it) or
formatter contexts (:class:`TemplateObject`), whose capitalised methods are the fields.
Errors read as Go's (``template: :1: function "foo" not defined``).
"""

from __future__ import annotations

from collections.abc import Container, Mapping

from doca.cli.template_exec import TemplateExecError, execute
from doca.cli.template_funcs import DOCKER_FUNCTIONS, HEADER_FUNCTIONS, Function
from doca.cli.template_parse import TemplateSyntaxError, parse
from doca.cli.template_values import TemplateError, TemplateObject, go_json

__all__ = [
    "DOCKER_FUNCTIONS",
    "HEADER_FUNCTIONS",
    "Template",
    "TemplateError",
    "TemplateExecError",
    "TemplateObject",
    "TemplateSyntaxError",
    "go_json",
]


class Template:
    """A parsed template; parsing raises TemplateSyntaxError."""

    def __init__(
        self, text: str, name: str = "", functions: Mapping[str, Function] = DOCKER_FUNCTIONS
    ) -> None:
        self.text = text
        self.name = name
        self.functions = functions
        self.tree = parse(text, name, functions)

    def render(
        self,
        dot: object,
        functions: Mapping[str, Function] | None = None,
        missing_key_error: bool = False,
        known_fields: Container[str] = frozenset(),
    ) -> str:
        """The output for ``dot``; TemplateExecError when the data does not fit.
        ``missing_key_error`` reads JSON as `docker inspect` does (Go's missingkey=error), but
        a field of ``known_fields`` the JSON left out is nil, as in the decoded type."""
        out, error = self.render_partial(dot, functions, missing_key_error, known_fields)
        if error is not None:
            raise error
        return out

    def render_partial(
        self,
        dot: object,
        functions: Mapping[str, Function] | None = None,
        missing_key_error: bool = False,
        known_fields: Container[str] = frozenset(),
    ) -> tuple[str, TemplateExecError | None]:
        """What Go writes before an error stops it, and the error."""
        return execute(
            self.tree, self.text, self.name, functions or self.functions, dot, missing_key_error,
            known_fields,
        )  # fmt: skip


def render(text: str, dot: object, name: str = "") -> str:
    """Parse ``text`` and render it for ``dot`` in one step."""
    return Template(text, name).render(dot)
