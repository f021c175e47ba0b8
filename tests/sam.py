"""template.yaml as CloudFormation sees it: transformed offline, linted, and evaluated.

``translate_template()`` does what ``sam package`` + the ``AWS::Serverless`` transform do, with no
AWS account and no network: local ``CodeUri``/``ContentUri``/``DefinitionUri`` paths are checked
and rewritten to ``s3://`` URIs, a state machine's ``DefinitionUri`` file is inlined as its
``Definition``, and aws-sam-translator turns the result into plain CloudFormation.
``evaluate()`` resolves the intrinsic functions of a piece of that template for given parameter
values, so tests can assert what a deployed stack would really contain (the environment of a
function, the ARN an IAM statement names) rather than the shape of ``!If``/``!Sub`` trees.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import boto3
from cfnlint.api import ManualArgs, lint, lint_file
from cfnlint.rules import Match
from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import yaml_parse

from tests.helpers import TEMPLATE

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
STACK_NAME = "mojang-chat"
ARTIFACT_BUCKET = "mojang-chat-artifacts"

# Properties that name a local file or folder which `sam package` uploads to S3.
_UPLOADED = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
    "AWS::Serverless::Api": "DefinitionUri",
    "AWS::Serverless::HttpApi": "DefinitionUri",
}


class TemplateError(AssertionError):
    """The template cannot be packaged or transformed; the message lists every cause."""


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """The SAM template as a dict, with short-form intrinsics (``!Ref``) in long form."""
    template: dict[str, Any] = yaml_parse(path.read_text())
    return template


def translate_template(
    path: Path = TEMPLATE, parameters: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """template.yaml transformed into the CloudFormation template that would be deployed."""
    template = load_template(path)
    _package_locally(template, path.parent)
    translator = Translator(
        managed_policy_map=None,
        sam_parser=Parser(),
        boto_session=boto3.session.Session(region_name=REGION),
    )
    try:
        translated: dict[str, Any] = translator.translate(
            template,
            parameter_values=dict(parameters or {}),
            get_managed_policy_map=lambda: {},
        )
    except InvalidDocumentException as error:
        causes = "\n".join(f"- {cause.message}" for cause in error.causes)
        raise TemplateError(f"{path.name} does not transform:\n{causes}") from error
    return translated


def _package_locally(template: dict[str, Any], base: Path) -> None:
    """Do `sam package`'s rewriting in place, failing on a path that does not exist."""
    function_globals = template.get("Globals", {}).get("Function", {})
    if isinstance(function_globals.get("CodeUri"), str):
        function_globals["CodeUri"] = _uploaded(base, "Globals", function_globals["CodeUri"])
    for logical_id, resource in template.get("Resources", {}).items():
        properties = resource.get("Properties", {})
        prop = _UPLOADED.get(resource.get("Type", ""))
        if prop and isinstance(properties.get(prop), str):
            properties[prop] = _uploaded(base, logical_id, properties[prop])
        if resource.get("Type") == "AWS::Serverless::StateMachine" and isinstance(
            properties.get("DefinitionUri"), str
        ):
            properties["Definition"] = load_definition(base / properties.pop("DefinitionUri"))


def _uploaded(base: Path, logical_id: str, uri: str) -> str:
    if uri.startswith("s3://"):
        return uri
    local = base / uri
    if not local.exists():
        raise TemplateError(f"{logical_id}: {uri!r} does not exist (relative to {base})")
    return f"s3://{ARTIFACT_BUCKET}/{logical_id}/{local.name or 'code'}.zip"


def load_definition(path: Path) -> dict[str, Any]:
    """A state machine definition file (JSON, or YAML if so named) as a dict."""
    text = path.read_text()
    definition: dict[str, Any] = (
        yaml_parse(text) if path.suffix in {".yaml", ".yml"} else json.loads(text)
    )
    return definition


def lint_template(template: Mapping[str, Any]) -> list[Match]:
    """cfn-lint's findings (errors, warnings, informational) on a template given as a dict."""
    matches: list[Match] = lint(json.dumps(template), config=ManualArgs(regions=[REGION]))
    return matches


def lint_template_file(path: Path = TEMPLATE) -> list[Match]:
    """cfn-lint's findings on a template file, as `cfn-lint template.yaml` reports them."""
    matches: list[Match] = lint_file(path, config=ManualArgs(regions=[REGION]))
    return matches


# --- Evaluating intrinsic functions -------------------------------------------------------

_NO_VALUE = object()
_SUB_VARIABLE = re.compile(r"\$\{([^!}][^}]*)\}")


def parameter_values(
    template: Mapping[str, Any], overrides: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Every parameter's value, checked against its constraints as CloudFormation does.

    A parameter takes its default unless overridden; list types are split on commas. A value
    that breaks ``AllowedValues``/``AllowedPattern``/length/range raises ``TemplateError``.
    """
    overrides = dict(overrides or {})
    declared = template.get("Parameters", {})
    unknown = set(overrides) - set(declared)
    if unknown:
        raise TemplateError(f"unknown parameters: {sorted(unknown)}")
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        raw = overrides.get(name, spec.get("Default"))
        if raw is None:
            raise TemplateError(f"parameter {name} has no default and no value was given")
        text = str(raw)
        _check_constraints(name, spec, text)
        kind = str(spec.get("Type"))
        is_list = kind == "CommaDelimitedList" or kind.startswith("List<")
        values[name] = [item.strip() for item in text.split(",")] if is_list else text
    return values


def _check_constraints(name: str, spec: Mapping[str, Any], text: str) -> None:
    problem = spec.get("ConstraintDescription", "")
    allowed = spec.get("AllowedValues")
    if allowed is not None and text not in [str(value) for value in allowed]:
        raise TemplateError(f"{name}={text!r} is not one of {allowed} {problem}")
    pattern = spec.get("AllowedPattern")
    if pattern is not None and not re.fullmatch(pattern, text):
        raise TemplateError(f"{name}={text!r} does not match {pattern} {problem}")
    if not spec.get("MinLength", 0) <= len(text) <= spec.get("MaxLength", len(text)):
        raise TemplateError(f"{name}={text!r} has the wrong length {problem}")
    if spec.get("Type") == "Number":
        number = float(text)
        if not spec.get("MinValue", number) <= number <= spec.get("MaxValue", number):
            raise TemplateError(f"{name}={text!r} is out of range {problem}")


def evaluate(
    template: Mapping[str, Any], node: Any, overrides: Mapping[str, str] | None = None
) -> Any:
    """``node`` with its intrinsic functions resolved for the given parameter values.

    ``Ref``/``GetAtt`` of a resource become ``"<LogicalId>"``/``"<LogicalId.Attribute>"``;
    ``AWS::NoValue`` removes the key or list item, as CloudFormation does.
    """
    return _Evaluator(template, parameter_values(template, overrides)).value(node)


def deployed_template(
    parameters: Mapping[str, str] | None = None, path: Path = TEMPLATE
) -> dict[str, Any]:
    """The stack CloudFormation would create from template.yaml with these parameter values.

    The template is translated, its ``Rules`` are checked (a failed assertion raises
    ``TemplateError`` with its ``AssertDescription``), resources and outputs whose condition is
    false are dropped, and every intrinsic function is resolved (see ``evaluate``).
    """
    translated = translate_template(path, parameters)
    evaluator = _Evaluator(translated, parameter_values(translated, parameters))
    evaluator.check_rules()
    deployed: dict[str, Any] = {}
    for section in ("Resources", "Outputs"):
        deployed[section] = {
            logical_id: evaluator.value({k: v for k, v in item.items() if k != "Condition"})
            for logical_id, item in translated.get(section, {}).items()
            if "Condition" not in item or evaluator.condition(item["Condition"])
        }
    return deployed


class _Evaluator:
    def __init__(self, template: Mapping[str, Any], parameters: dict[str, Any]) -> None:
        self.template = template
        self.names: dict[str, Any] = {
            **parameters,
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": STACK_NAME,
            "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{STACK_NAME}/id",
            "AWS::NoValue": _NO_VALUE,
        }
        self.conditions: dict[str, bool] = {}

    def check_rules(self) -> None:
        for name, rule in self.template.get("Rules", {}).items():
            if "RuleCondition" in rule and not self.value(rule["RuleCondition"]):
                continue
            for assertion in rule.get("Assertions", []):
                if not self.value(assertion["Assert"]):
                    reason = assertion.get("AssertDescription", "")
                    raise TemplateError(f"rule {name} fails: {reason}")

    def value(self, node: Any) -> Any:
        if isinstance(node, list):
            items = [self.value(item) for item in node]
            return [item for item in items if item is not _NO_VALUE]
        if not isinstance(node, dict):
            return copy.deepcopy(node)
        if len(node) == 1:
            ((key, argument),) = node.items()
            if key in {"Ref", "Condition"} or key.startswith("Fn::"):
                return self.function(key, argument)
        values = {key: self.value(item) for key, item in node.items()}
        return {key: item for key, item in values.items() if item is not _NO_VALUE}

    def function(self, name: str, argument: Any) -> Any:
        if name == "Ref":
            return self.names.get(argument, f"<{argument}>")
        if name == "Fn::GetAtt":
            target = argument if isinstance(argument, str) else ".".join(argument)
            return f"<{target}>"
        if name == "Fn::Sub":
            return self.sub(argument)
        if name == "Fn::If":
            condition, when_true, when_false = argument
            return self.value(when_true if self.condition(condition) else when_false)
        if name == "Fn::Join":
            separator, items = argument
            return separator.join(str(item) for item in self.value(items))
        if name == "Fn::Select":
            index, items = argument
            return self.value(items)[int(self.value(index))]
        if name == "Fn::Split":
            separator, text = argument
            return str(self.value(text)).split(separator)
        if name == "Fn::FindInMap":
            mapping, key, attribute = (self.value(item) for item in argument)
            return copy.deepcopy(self.template["Mappings"][mapping][key][attribute])
        if name == "Fn::Base64":
            return self.value(argument)
        if name == "Condition":
            return self.condition(argument)
        if name == "Fn::Equals":
            left, right = (self.value(item) for item in argument)
            return str(left) == str(right)
        if name == "Fn::Not":
            return not self.value(argument[0])
        if name == "Fn::And":
            return all(self.value(item) for item in argument)
        if name == "Fn::Or":
            return any(self.value(item) for item in argument)
        if name == "Fn::Contains":
            items, item = (self.value(part) for part in argument)
            return item in items
        raise TemplateError(f"evaluate() does not know {name}")

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            self.conditions[name] = bool(self.value(self.template["Conditions"][name]))
        return self.conditions[name]

    def sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        local = {key: self.value(item) for key, item in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in local:
                return str(local[name])
            if name in self.names:
                return str(self.names[name])
            return f"<{name}>"

        return _SUB_VARIABLE.sub(replace, text).replace("${!", "${")
