"""The AWS services of the template, in this process: DynamoDB tables, Lambda functions and
Step Functions state machines through moto, with the state machines really executing the
project's definition file and their Lambda tasks calling the real handlers in-process.

Nothing here runs when the template has no state machine and no table (``/chat`` needs no AWS).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import threading
import traceback
import zipfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any
from unittest import mock

from mojang_chat.local.template import Application

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
STACK_NAME = "mojang-chat-local"
ROLE_NAME = "mojang-chat-local"

InvokeFunction = Callable[[str, Mapping[str, Any]], Any]
DefinitionFilter = Callable[[dict[str, Any]], dict[str, Any]]

_TABLES = ("AWS::DynamoDB::Table", "AWS::Serverless::SimpleTable")
_STATE_MACHINES = ("AWS::Serverless::StateMachine",)
_SIMPLE_TYPES = {"String": "S", "Number": "N", "Binary": "B"}


def needs_aws(app: Application) -> bool:
    """True when the template has something that needs the local AWS services."""
    return bool(app.resources_of_type(*_TABLES, *_STATE_MACHINES))


@contextlib.contextmanager
def local_aws(
    app: Application,
    invoke: InvokeFunction,
    definition_filter: DefinitionFilter | None = None,
    *,
    only: str | None = None,
) -> Iterator[dict[str, str]]:
    """moto with the template's tables, functions and state machines, for the duration.

    Sets and yields the functions' environment variables, as the template's ``Environment``
    gives them (the table name, the state machine ARN, parameter defaults); the environment
    is restored on exit. ``definition_filter``, when given, rewrites each state machine's
    definition (after its substitutions) before it is created: the tests shorten the
    ``Retry`` waits with it, since moto really sleeps them. With ``only`` (a logical id: one
    function runs, as ``invoke`` runs it), that function's own variables are set too.
    """
    saved = dict(os.environ)
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    region = os.environ["AWS_DEFAULT_REGION"]
    names = _Names(app, region)
    try:
        if not needs_aws(app):
            environment = _function_environment(app, names, only)
            os.environ.update(environment)
            yield environment
            return
        import boto3
        from moto import mock_aws
        from moto.awslambda.models import LambdaFunction

        patched = _in_process_invoke(invoke)
        with (
            mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
            mock.patch.object(LambdaFunction, "_invoke_lambda", patched),
            dynamodb_one_request_at_a_time(),
        ):
            _create_tables(app, names, boto3.client("dynamodb", region_name=region))
            _create_functions(app, names, boto3.client("lambda", region_name=region), region)
            _create_state_machines(
                app, names, boto3.client("stepfunctions", region_name=region), definition_filter
            )
            environment = _function_environment(app, names, only)
            os.environ.update(environment)
            yield environment
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def moto_server() -> Iterator[dict[str, str]]:
    """moto's services over HTTP on 127.0.0.1 (a free port), for the duration: what several
    processes share, as Lambda containers share DynamoDB. Yields the environment that points
    boto3 at it through its standard variables (``AWS_ENDPOINT_URL``, the region, dummy
    credentials), for the processes to take; this process's environment is left alone."""
    from moto.server import ThreadedMotoServer

    # Its HTTP server logs every request on stderr; the processes' own output is what matters.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    # Its threads answer the processes' requests concurrently: without the lock two
    # conditional writes to one item could both succeed (two containers, one lease).
    with dynamodb_one_request_at_a_time():
        server.start()
        try:
            host, port = server.get_host_and_port()
            yield {
                "AWS_ENDPOINT_URL": f"http://{host}:{port}",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
            }
        finally:
            server.stop()


def create_table(app: Application, logical_id: str, dynamodb: Any, name: str) -> None:
    """Create the template's table ``logical_id`` as ``name`` (its key schema, its TTL)."""
    _create_table(name, app.template["Resources"][logical_id], dynamodb)


class _Names:
    """Resolves the template's ``Ref`` / ``GetAtt`` / ``Sub`` to the local resources."""

    def __init__(self, app: Application, region: str) -> None:
        self.app = app
        self.region = region
        self.resources: dict[str, Mapping[str, Any]] = app.template["Resources"]

    def arn(self, service: str, kind: str, name: str) -> str:
        sep = ":" if service in ("lambda", "states") else "/"
        return f"arn:aws:{service}:{self.region}:{ACCOUNT_ID}:{kind}{sep}{name}"

    def name(self, logical_id: str) -> str:
        """The physical name of a resource (its explicit name if the template gives one)."""
        resource = self.resources[logical_id]
        props = resource.get("Properties") or {}
        explicit = props.get("TableName") or props.get("Name") or props.get("FunctionName")
        resolved = self.resolve(explicit) if explicit is not None else None
        return str(resolved) if resolved else logical_id

    def resolve(self, value: Any) -> str | None:
        """A value of the template as a string, or None where it cannot be known locally."""
        if isinstance(value, str | int | float | bool):
            return str(value).lower() if isinstance(value, bool) else str(value)
        if not isinstance(value, dict) or len(value) != 1:
            return None
        ((function, argument),) = value.items()
        if function == "Ref":
            return self._ref(str(argument))
        if function == "Fn::GetAtt":
            logical_id, attribute = (
                argument if isinstance(argument, list) else str(argument).split(".", 1)
            )
            return self._get_att(str(logical_id), str(attribute))
        if function == "Fn::Sub" and isinstance(argument, str):
            return self._sub(argument)
        return None

    def _ref(self, name: str) -> str | None:
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::StackName": STACK_NAME,
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name in pseudo:
            return pseudo[name]
        parameters = self.app.template.get("Parameters") or {}
        if name in parameters:
            default = parameters[name].get("Default")
            return None if default is None else str(default)
        kind = (self.resources.get(name) or {}).get("Type")
        if kind in _STATE_MACHINES:
            return self.arn("states", "stateMachine", self.name(name))
        if kind is not None:
            return self.name(name)  # functions, tables: Ref is the name
        return None

    def _get_att(self, logical_id: str, attribute: str) -> str | None:
        kind = (self.resources.get(logical_id) or {}).get("Type")
        name = self.name(logical_id)
        if attribute == "Arn" and kind == "AWS::Serverless::Function":
            return self.arn("lambda", "function", name)
        if attribute == "Arn" and kind in _TABLES:
            return self.arn("dynamodb", "table", name)
        if attribute == "Arn" and kind in _STATE_MACHINES:
            return self.arn("states", "stateMachine", name)
        if attribute == "Name":
            return name
        return None

    def _sub(self, text: str) -> str | None:
        unresolved = False

        def replace(match: re.Match[str]) -> str:
            nonlocal unresolved
            reference = match.group(1)
            if "." in reference:
                value = self._get_att(*reference.split(".", 1))
            else:
                value = self._ref(reference)
            if value is None:
                unresolved = True
                return ""
            return value

        result = re.sub(r"\$\{([^}!]+)\}", replace, text)
        return None if unresolved else result


@contextlib.contextmanager
def dynamodb_one_request_at_a_time() -> Iterator[None]:
    """moto's DynamoDB answering one request at a time, as a thread-safe service would.

    moto's backends are not thread-safe, and the functions' concurrent invocations call them
    from many threads: a write's condition was checked and applied without a lock (two requests
    could both take the last one a client has this minute), and a transaction copies the whole
    table to roll back with, which failed with "dictionary changed size during iteration" while
    another thread wrote to it (a run then ended ``failed`` with a RuntimeError). DynamoDB
    answers each request on the spot and calls nothing else, so one lock costs little and
    cannot deadlock.
    """
    from moto.dynamodb.responses import DynamoHandler

    call_action = DynamoHandler.call_action
    lock = threading.Lock()

    def one_at_a_time(self: Any) -> Any:
        with lock:
            return call_action(self)

    with mock.patch.object(DynamoHandler, "call_action", one_at_a_time):
        yield


def _in_process_invoke(invoke: InvokeFunction) -> Callable[..., tuple[str, bool, str]]:
    """A replacement for moto's Docker-based ``LambdaFunction._invoke_lambda``: the real
    handler, called in this process; an exception becomes an error named after its type (so
    the workflow's ``Catch`` on custom errors works)."""

    def _invoke_lambda(self: Any, event: Any = None) -> tuple[str, bool, str]:
        # moto has decoded the payload already; an empty one arrives as the string "{}".
        payload = json.loads(event) if isinstance(event, str | bytes) else event
        try:
            result = invoke(self.function_name, payload)
        except Exception as error:
            body = {
                "errorType": type(error).__name__,
                "errorMessage": str(error),
                "stackTrace": traceback.format_tb(error.__traceback__),
            }
            return json.dumps(body), True, traceback.format_exc()
        return json.dumps(result), False, ""

    return _invoke_lambda


def _create_tables(app: Application, names: _Names, dynamodb: Any) -> None:
    for logical_id, resource in app.resources_of_type(*_TABLES).items():
        _create_table(names.name(logical_id), resource, dynamodb)


def _create_table(name: str, resource: Mapping[str, Any], dynamodb: Any) -> None:
    props = resource.get("Properties") or {}
    if resource["Type"] == "AWS::Serverless::SimpleTable":
        key = props.get("PrimaryKey") or {"Name": "id", "Type": "String"}
        kind = _SIMPLE_TYPES[key.get("Type", "String")]
        dynamodb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": key["Name"], "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": key["Name"], "AttributeType": kind}],
            BillingMode="PAY_PER_REQUEST",
        )
        return
    arguments: dict[str, Any] = {
        "TableName": name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": "PAY_PER_REQUEST",  # no capacity to think about locally
    }
    indexes = [
        {k: v for k, v in index.items() if k != "ProvisionedThroughput"}
        for index in props.get("GlobalSecondaryIndexes") or []
    ]
    if indexes:
        arguments["GlobalSecondaryIndexes"] = indexes
    dynamodb.create_table(**arguments)
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled") in (True, "true"):
        dynamodb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
        )


def _role_arn() -> str:
    return f"arn:aws:iam::{ACCOUNT_ID}:role/{ROLE_NAME}"


def _create_functions(app: Application, names: _Names, lambda_: Any, region: str) -> None:
    """Every function, so that ``lambda:invoke`` tasks find them (the code is a stub: the
    patched invoke calls the real handler)."""
    import boto3

    iam = boto3.client("iam", region_name=region)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "*"}
        ],
    }
    iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("app.py", "def lambda_handler(event, context):\n    return event\n")
    for logical_id, function in app.functions.items():
        lambda_.create_function(
            FunctionName=names.name(logical_id),
            Runtime="python3.12",
            Role=_role_arn(),
            Handler=function.handler_name,
            Code={"ZipFile": archive.getvalue()},
            Timeout=int(function.timeout),
        )


def _create_state_machines(
    app: Application, names: _Names, sfn: Any, definition_filter: DefinitionFilter | None
) -> None:
    for logical_id, resource in app.resources_of_type(*_STATE_MACHINES).items():
        props = resource.get("Properties") or {}
        if "DefinitionUri" in props and isinstance(props["DefinitionUri"], str):
            text = (app.root / Path(props["DefinitionUri"])).read_text(encoding="utf-8")
        else:
            text = json.dumps(props.get("Definition") or {})
        for key, value in (props.get("DefinitionSubstitutions") or {}).items():
            resolved = names.resolve(value)
            if resolved is None:
                raise RuntimeError(f"{logical_id}: cannot resolve substitution {key} locally")
            text = text.replace("${" + key + "}", resolved)
        if definition_filter is not None:
            text = json.dumps(definition_filter(json.loads(text)))
        sfn.create_state_machine(
            name=names.name(logical_id),
            definition=text,
            roleArn=_role_arn(),
            # moto executes STANDARD workflows only (no StartSyncExecution for EXPRESS).
            type="STANDARD",
        )


def _shared_names(app: Application) -> set[str]:
    """The variables the template's Globals give every function."""
    shared = ((app.template.get("Globals") or {}).get("Function") or {}).get("Environment") or {}
    return set(shared.get("Variables") or {})


def _function_environment(
    app: Application, names: _Names, only: str | None = None
) -> dict[str, str]:
    """The functions' environment variables, as one process can have them.

    References to the template's resources (the table name, the state machine ARN) are always
    set. Parameter defaults and the Globals' plain values are set where the environment (or
    .env) has none. A plain value that one function sets for itself alone is left out: the
    functions share this process's environment, and it would apply to all of them; unless
    ``only`` names the one function that runs.
    """
    environment: dict[str, str] = {}
    resources = app.template["Resources"]
    shared_names = _shared_names(app)
    functions = [app.functions[only]] if only else list(app.functions.values())
    for function in functions:
        for name, value in function.environment.items():
            if not isinstance(value, dict) and name not in shared_names and not only:
                continue
            resolved = names.resolve(value)
            if resolved is None:
                continue
            targets = (
                [value.get("Ref"), *(value.get("Fn::GetAtt") or [None])[:1]]
                if isinstance(value, dict)
                else []
            )
            refers_to_resource = any(str(t).split(".")[0] in resources for t in targets if t)
            if refers_to_resource or name not in os.environ:
                environment[name] = resolved
    return environment
