"""Where a message's template comes from: the shipped set (templates/<language>/<name>.
<medium>.j2), under an operator's directory of the same layout (CLOSEDLOOP_TEMPLATES_DIR)
that is checked at start-up. Both run sandboxed: a template reads what it is given and can
call nothing else."""
from __future__ import annotations

import os
import re
from pathlib import Path

from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined, Template, TemplateNotFound
from jinja2 import TemplateSyntaxError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from services.notifier.messages import vocabulary as words

SHIPPED = Path(__file__).parent / "templates"
MEDIA = ("chat", "email", "sms")
FILE = re.compile(r"^(?P<name>[a-z0-9_.-]+)\.(?P<medium>[a-z]+)\.j2$")

# Reasons that recur with a number or a letter share one template (a table, not ifs);
# an operator may still write one for an exact reason (escalation.step2.chat.j2).
FAMILIES = (
    (re.compile(r"^escalation\.step\d+(\.repeat\d+)?$"), "escalation.step"),
    (re.compile(r"^escalation\.retrigger\d+$"), "escalation.retrigger"),
    (re.compile(r"^late\.[a-z_]+\.(?P<phase>warning|deadline|up)$"), "late.{phase}"),
    (re.compile(r"^raci\.assigned\.[a-z]+$"), "raci.assigned"),
)


def family_of(reason: str) -> str:
    for pattern, family in FAMILIES:
        found = pattern.match(reason)
        if found:
            return family.format(**found.groupdict())
    return reason


class TemplateRefused(ValueError):
    """An operator's template that cannot be used: start-up stops, naming file and line."""


def _environment(loader, html: bool) -> ImmutableSandboxedEnvironment:
    # The sandbox, immutable too: a template reads its variables and changes none of them.
    # StrictUndefined: a misspelt variable in an override fails its render (and the shipped
    # template is used, the failure recorded) instead of sending a blank.
    env = ImmutableSandboxedEnvironment(loader=loader, autoescape=html, undefined=StrictUndefined,
                               trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False,
                               auto_reload=False)
    env.filters["num"] = words.number
    return env


class TemplateSet:
    """Text and HTML environments over one loader: HTML parts are escaped, the others not
    (a title with '&' reads as such in chat and SMS)."""

    def __init__(self, directories: list[Path], overrides: Path | None = None) -> None:
        self.directories, self.overrides = directories, overrides
        loader = ChoiceLoader([FileSystemLoader(str(d)) for d in directories])
        self.text, self.html = _environment(loader, False), _environment(loader, True)
        # Found once per reason, medium and language (a loader reads the disk to answer).
        self._found: dict[tuple[str, str, str], tuple[str, str]] = {}
        self._chains: dict[tuple[str, bool], list[Template] | None] = {}

    def find(self, reason: str, medium: str, language: str) -> tuple[str, str]:
        """The template's name for this reason, and the family it was chosen as."""
        language = language if language in words.LANGUAGES else "zh"
        key = (reason, medium, language)
        if key not in self._found:
            if len(self._found) > 10_000:  # reasons are few; this only bounds a surprise
                self._found.clear()
            self._found[key] = self._find(reason, medium, language)
        return self._found[key]

    def _find(self, reason: str, medium: str, language: str) -> tuple[str, str]:
        family = family_of(reason)
        for name in (reason, family, "default"):
            candidate = f"{language}/{name}.{medium}.j2"
            try:
                self.text.loader.get_source(self.text, candidate)
            except TemplateNotFound:
                continue
            return candidate, family
        raise TemplateNotFound(f"{language}/default.{medium}.j2")

    def origin(self, name: str) -> str:
        """How a message names the template it came from: an operator's is marked."""
        if self.overrides is not None and (self.overrides / name).is_file():
            return f"override:{name}"
        return name

    def get(self, name: str, html: bool = False) -> Template:
        return (self.html if html else self.text).get_template(name)

    def chain(self, name: str, html: bool = False) -> list[Template] | None:
        """The template and those it extends, nearest first: their blocks are the parts.
        None when a template extends a name known only at render time."""
        key = (name, html)
        if key not in self._chains:
            env, found, current = self.html if html else self.text, [], name
            while current is not None:
                found.append(env.get_template(current))
                source = env.loader.get_source(env, current)[0]
                extends = env.parse(source).find(nodes.Extends)
                if extends is not None and not isinstance(extends.template, nodes.Const):
                    found = None
                    break
                current = extends.template.value if extends is not None else None
            self._chains[key] = found
        return self._chains[key]


def check_overrides(directory: Path) -> list[str]:
    """Compile every template of an operator's directory; the first that does not compile
    (or is not named <language>/<name>.<medium>.j2) refuses start-up. Returns their names."""
    if not directory.is_dir():
        raise TemplateRefused(f"CLOSEDLOOP_TEMPLATES_DIR {directory} is not a directory")
    env = _environment(ChoiceLoader([FileSystemLoader(str(directory)),
                                     FileSystemLoader(str(SHIPPED))]), False)
    names = []
    for path in template_files(directory):
        relative = path.relative_to(directory)
        found = FILE.match(path.name)
        if len(relative.parts) != 2 or found is None or found["medium"] not in MEDIA:
            raise TemplateRefused(
                f"{path}: not where a template goes; name it <language>/<reason>.<medium>.j2 "
                f"with a medium among {', '.join(MEDIA)} (e.g. zh/incident.opened.chat.j2)")
        try:
            env.get_template(relative.as_posix())
        except TemplateSyntaxError as error:
            raise TemplateRefused(f"{path}:{error.lineno}: {error.message}") from None
        names.append(relative.as_posix())
    return names


def template_files(directory: Path) -> list[Path]:
    """Every *.j2 under the directory, following links (a Kubernetes ConfigMap volume links
    each folder to its hidden ..data copy) and skipping hidden names."""
    found = []
    for root, folders, files in os.walk(directory, followlinks=True):
        folders[:] = sorted(f for f in folders if not f.startswith("."))
        found += [Path(root) / f for f in sorted(files)
                  if f.endswith(".j2") and not f.startswith(".")]
    return found

