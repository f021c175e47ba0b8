"""template.yaml as the local server needs it: functions, their handlers and HTTP API routes.

The server finds handlers the way SAM does, from each ``AWS::Serverless::Function``'s
``CodeUri``, ``Handler`` and ``HttpApi`` events, so a function or route added to the template is
served with no change here.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

Handler = Callable[[dict[str, Any], Any], Any]

# Lambda's own default when a function names no Timeout.
DEFAULT_TIMEOUT_SECONDS = 3.0
DEFAULT_MEMORY_MB = 128


class TemplateError(RuntimeError):
    """template.yaml cannot be read, or names a handler that cannot be loaded."""


class _CloudFormationLoader(yaml.SafeLoader):
    """A SafeLoader that reads short-form intrinsics (``!Ref X``) as their long form
    (``{"Ref": "X"}``), so the template parses without aws-sam-translator."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if name == "Fn::GetAtt":  # !GetAtt Resource.Attribute
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:
        raise yaml.constructor.ConstructorError(
            None, None, f"unexpected !{suffix}", node.start_mark
        )
    return {name: value}


_CloudFormationLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path) -> dict[str, Any]:
    """The template as a dict, intrinsics in long form."""
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_CloudFormationLoader)  # noqa: S506 - a SafeLoader subclass
    except (OSError, yaml.YAMLError) as error:
        raise TemplateError(f"cannot read {path}: {error}") from error
    if not isinstance(document, dict) or not isinstance(document.get("Resources"), dict):
        raise TemplateError(f"{path} is not a CloudFormation template")
    return document


@dataclass(frozen=True)
class Route:
    """One HTTP API route: ``GET /v1/threads/{thread_id}`` and the function behind it."""

    method: str  # upper case, or "ANY"
    path: str  # the template's path, with {param} and {proxy+} segments; "$default" for all
    function: str  # logical id

    @property
    def route_key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"

    @cached_property
    def _pattern(self) -> re.Pattern[str]:
        if self.path == "$default":
            return re.compile(r"^/.*$")
        parts = []
        for segment in self.path.strip("/").split("/"):
            greedy = re.fullmatch(r"\{(\w+)\+\}", segment)
            param = re.fullmatch(r"\{(\w+)\}", segment)
            if greedy:
                parts.append(f"(?P<{greedy.group(1)}>.+)")
            elif param:
                parts.append(f"(?P<{param.group(1)}>[^/]+)")
            else:
                parts.append(re.escape(segment))
        return re.compile("^/" + "/".join(parts) + "$")

    def match(self, path: str) -> dict[str, str] | None:
        """The path parameters when ``path`` matches this route's path, else None."""
        found = self._pattern.match(path)
        return found.groupdict() if found else None

    @property
    def specificity(self) -> tuple[int, int, int]:
        """API Gateway prefers exact paths, then fewer parameters, greedy ones and $default
        last; a sort key, lowest first."""
        segments = self.path.strip("/").split("/")
        greedy = 2 if self.path == "$default" else int(any(s.endswith("+}") for s in segments))
        params = sum(s.startswith("{") for s in segments)
        return (greedy, params, -len(segments))


@dataclass
class Function:
    """An ``AWS::Serverless::Function`` of the template, loadable in this process."""

    logical_id: str
    code_dir: Path
    handler_name: str  # "app.lambda_handler"
    timeout: float
    memory_mb: int
    environment: dict[str, Any] = field(default_factory=dict)
    _handler: Handler | None = field(default=None, repr=False)

    def handler(self) -> Handler:
        """The handler function, loaded from its file on first use (as Lambda does)."""
        if self._handler is None:
            module_path, _, attribute = self.handler_name.rpartition(".")
            file = self.code_dir / (module_path.replace(".", "/") + ".py")
            # A name of its own per function: every function's module is called app.py.
            name = f"local_{self.logical_id}_{module_path.replace('.', '_')}"
            spec = importlib.util.spec_from_file_location(name, file)
            if spec is None or spec.loader is None or not file.is_file():
                raise TemplateError(f"{self.logical_id}: no handler module at {file}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
            handler = getattr(module, attribute, None)
            if not callable(handler):
                raise TemplateError(f"{self.logical_id}: {file} has no function {attribute}")
            self._handler = handler
        return self._handler


@dataclass
class Application:
    """The functions and routes of a template."""

    root: Path
    template: dict[str, Any]
    functions: dict[str, Function]
    routes: list[Route]

    @classmethod
    def from_file(cls, path: Path) -> Application:
        """Read ``path`` (template.yaml); paths in it are relative to its folder."""
        template = load_template(path)
        root = path.resolve().parent
        defaults = (template.get("Globals") or {}).get("Function") or {}
        functions: dict[str, Function] = {}
        routes: list[Route] = []
        for logical_id, resource in template["Resources"].items():
            if resource.get("Type") != "AWS::Serverless::Function":
                continue
            props = {**defaults, **(resource.get("Properties") or {})}
            code_uri, handler = props.get("CodeUri"), props.get("Handler")
            if not isinstance(code_uri, str) or not isinstance(handler, str):
                continue  # an image or inline function: not something to run here
            environment = {
                **((defaults.get("Environment") or {}).get("Variables") or {}),
                **(
                    ((resource.get("Properties") or {}).get("Environment") or {}).get("Variables")
                    or {}
                ),
            }
            functions[logical_id] = Function(
                logical_id=logical_id,
                code_dir=root / code_uri,
                handler_name=handler,
                timeout=_number(props.get("Timeout"), DEFAULT_TIMEOUT_SECONDS),
                memory_mb=int(_number(props.get("MemorySize"), DEFAULT_MEMORY_MB)),
                environment=environment,
            )
            for event in (props.get("Events") or {}).values():
                if event.get("Type") != "HttpApi":
                    continue
                event_props = event.get("Properties") or {}
                method = str(event_props.get("Method", "ANY")).upper()
                path_ = str(event_props.get("Path", "$default"))
                routes.append(Route("ANY" if method == "*" else method, path_, logical_id))
        routes.sort(key=lambda route: route.specificity)
        return cls(root=root, template=template, functions=functions, routes=routes)

    def find(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route API Gateway would pick for ``method path``, with its path parameters.

        ``OPTIONS`` goes to the function of any route on that path (its CORS configuration
        answers the preflight), as API Gateway's CORS support answers every path.
        """
        for route in self.routes:
            if route.method in (method, "ANY") or method == "OPTIONS":
                params = route.match(path)
                if params is not None:
                    return route, params
        return None

    def methods_of(self, path: str) -> list[str]:
        """The methods of the routes on ``path`` (none: API Gateway has no route there)."""
        return sorted({route.method for route in self.routes if route.match(path) is not None})

    def resources_of_type(self, *kinds: str) -> dict[str, Mapping[str, Any]]:
        """The template's resources of the given types, by logical id."""
        return {
            logical_id: resource
            for logical_id, resource in self.template["Resources"].items()
            if resource.get("Type") in kinds
        }


def _number(value: Any, default: float) -> float:
    return float(value) if isinstance(value, int | float) else default
