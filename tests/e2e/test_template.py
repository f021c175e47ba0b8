"""template.yaml: valid for SAM and CloudFormation, and it deploys what the app needs, no more.

Three independent checks that the template is valid (``sam validate --lint``, cfn-lint on the
raw template, cfn-lint on the template aws-sam-translator produces), then assertions on the
stack that CloudFormation would create for given parameter values (``tests.sam``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mojang_chat.core.settings import Settings
from tests.helpers import ROOT, TEMPLATE
from tests.sam import (
    ACCOUNT_ID,
    REGION,
    TemplateError,
    deployed_template,
    lint_template,
    lint_template_file,
    load_template,
    translate_template,
)

SECRET_NAME = "mojang-chat/openai-api-key"
# AllowedOrigins has no default: every deployment names its sites.
SITE = "https://chat.example.com"
WITH_SECRET = {"OpenAIApiKeySecretName": SECRET_NAME, "AllowedOrigins": SITE}

# The AWS managed policies SAM attaches for logs and X-Ray (Tracing: Active); nothing else.
ALLOWED_MANAGED_POLICIES = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
}
# HTTP APIs end an integration after 30 s.
HTTP_API_INTEGRATION_LIMIT_SECONDS = 30


def sam_cli() -> str | None:
    """The aws-sam-cli binary: $SAM_CLI (set by `make unit`), the project's venv, or PATH."""
    configured = os.environ.get("SAM_CLI")
    if configured:
        return configured
    local = ROOT / ".venv-sam" / "bin" / "sam"
    return str(local) if local.exists() else shutil.which("sam")


def resources_of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == kind
    }


def only_resource_of_type(template: dict[str, Any], kind: str) -> dict[str, Any]:
    (resource,) = resources_of_type(template, kind).values()
    return resource


def iam_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    """Every statement of every inline policy of every role in a deployed template."""
    return [
        statement
        for role in resources_of_type(template, "AWS::IAM::Role").values()
        for policy in role["Properties"].get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
    ]


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


@pytest.fixture(scope="module")
def with_secret() -> dict[str, Any]:
    """The stack as deployed with the API key in Secrets Manager and otherwise defaults."""
    return deployed_template(WITH_SECRET)


# --- The template is valid ------------------------------------------------------------------


def test_sam_validate_lint_passes() -> None:
    # Given the SAM CLI (it runs offline: translator + cfn-lint, no AWS calls)
    sam = sam_cli()
    if sam is None:
        pytest.skip("aws-sam-cli not found: set SAM_CLI or run `make sam-tools`")
    # When it validates the template with linting
    result = subprocess.run(  # noqa: S603 - our own tool, fixed arguments
        [sam, "validate", "--lint", "--region", REGION, "--template-file", str(TEMPLATE)],
        cwd=ROOT,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    # Then it is happy
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout


def test_raw_template_passes_cfn_lint() -> None:
    assert [str(match) for match in lint_template_file(TEMPLATE)] == []


def test_translated_template_passes_cfn_lint() -> None:
    # Given the CloudFormation template that the SAM transform produces
    translated = translate_template(parameters=WITH_SECRET)
    # Then cfn-lint finds nothing: no errors and no warnings (none are ignored)
    assert [str(match) for match in lint_template(translated)] == []


def test_translation_leaves_plain_cloudformation() -> None:
    translated = translate_template(parameters=WITH_SECRET)
    kinds = {resource["Type"] for resource in translated["Resources"].values()}
    assert not {kind for kind in kinds if kind.startswith("AWS::Serverless::")}
    assert {
        "AWS::Lambda::Function",
        "AWS::Lambda::LayerVersion",
        "AWS::ApiGatewayV2::Api",
        "AWS::ApiGatewayV2::Stage",
        "AWS::IAM::Role",
        "AWS::Logs::LogGroup",
    } <= kinds


# --- Functions and layer --------------------------------------------------------------------


def test_functions_run_python312_on_arm64_with_the_layer(with_secret: dict[str, Any]) -> None:
    layers = resources_of_type(with_secret, "AWS::Lambda::LayerVersion")
    (layer_id,) = layers
    layer = layers[layer_id]["Properties"]
    assert layer["CompatibleRuntimes"] == ["python3.12"]
    assert layer["CompatibleArchitectures"] == ["arm64"]
    for function in resources_of_type(with_secret, "AWS::Lambda::Function").values():
        properties = function["Properties"]
        assert properties["Runtime"] == "python3.12"
        assert properties["Architectures"] == ["arm64"]
        assert properties["TracingConfig"] == {"Mode": "Active"}
        assert properties["Layers"] == [f"<{layer_id}>"]


def test_api_functions_finish_before_the_http_api_gives_up(with_secret: dict[str, Any]) -> None:
    # Given every function that API Gateway may invoke
    invoked_by_api = {
        permission["Properties"]["FunctionName"]
        for permission in resources_of_type(with_secret, "AWS::Lambda::Permission").values()
        if permission["Properties"]["Principal"] == "apigateway.amazonaws.com"
    }
    assert invoked_by_api == {"<ChatFunction>", "<V1Function>"}
    for reference in invoked_by_api:
        function = with_secret["Resources"][reference.strip("<>")]["Properties"]
        # Then its timeout ends before the integration's
        assert function["Timeout"] < HTTP_API_INTEGRATION_LIMIT_SECONDS


def test_layer_is_built_by_its_makefile_for_arm64() -> None:
    # Given the layer resource of the SAM template
    layer_id, layer = next(
        (logical_id, resource)
        for logical_id, resource in load_template()["Resources"].items()
        if resource["Type"] == "AWS::Serverless::LayerVersion"
    )
    # Then `sam build` runs the target build-<LogicalId> of the Makefile in its ContentUri
    assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": "arm64"}
    makefile = ROOT / layer["Properties"]["ContentUri"] / "Makefile"
    assert f"build-{layer_id}:" in makefile.read_text()


# --- HTTP API -------------------------------------------------------------------------------


CHAT_ROUTES = {
    ("POST", "/chat"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/widget.js"),
    # $default: every request no other route takes, answered in /chat's error shape (404, 405)
    # rather than API Gateway's bare {"message": "Not Found"}.
    ("X-AMAZON-APIGATEWAY-ANY-METHOD", "/$default"),
}
# Every /v1 path and method, so that the function answers an unknown one in OpenAI's shape.
RUNS_ROUTES = {("X-AMAZON-APIGATEWAY-ANY-METHOD", "/v1/{proxy+}")}


def test_routes_go_to_their_functions(with_secret: dict[str, Any]) -> None:
    body = only_resource_of_type(with_secret, "AWS::ApiGatewayV2::Api")["Properties"]["Body"]
    routes = {
        (method.upper(), path): operation["x-amazon-apigateway-integration"]
        for path, operations in body["paths"].items()
        for method, operation in operations.items()
    }
    assert set(routes) == CHAT_ROUTES | RUNS_ROUTES
    for route, integration in routes.items():
        assert integration["type"] == "aws_proxy"
        assert integration["payloadFormatVersion"] == "2.0"
        function = "V1Function" if route in RUNS_ROUTES else "ChatFunction"
        assert f"<{function}.Arn>" in integration["uri"], route


def cors_of(deployed: dict[str, Any]) -> dict[str, Any] | None:
    api = only_resource_of_type(deployed, "AWS::ApiGatewayV2::Api")
    cors: dict[str, Any] | None = api["Properties"]["Body"].get("x-amazon-apigateway-cors")
    return cors


def test_cors_allows_only_the_sites_named(with_secret: dict[str, Any]) -> None:
    cors = cors_of(with_secret)
    assert cors is not None
    assert cors["allowOrigins"] == [SITE]
    assert set(cors["allowMethods"]) == {"GET", "POST", "OPTIONS"}
    # Not x-api-key: the shared secret is for servers and never sent from a page.
    assert set(cors["allowHeaders"]) == {"content-type", "authorization"}
    assert "*" not in json.dumps(cors)
    # What the local server's resolver answers, API Gateway answers when deployed.
    from mojang_chat.http.resolver import CORS_ALLOW_HEADERS, CORS_EXPOSE_HEADERS, CORS_MAX_AGE

    assert set(cors["allowHeaders"]) == set(CORS_ALLOW_HEADERS)
    assert set(cors["exposeHeaders"]) == set(CORS_EXPOSE_HEADERS)
    assert cors["maxAge"] == CORS_MAX_AGE


def test_a_deployment_must_name_its_origins() -> None:
    # Given no AllowedOrigins: there is no default (never localhost in a deployment)...
    assert "Default" not in load_template()["Parameters"]["AllowedOrigins"]
    # ...so the stack is not deployed without one
    with pytest.raises(TemplateError, match="AllowedOrigins has no default"):
        deployed_template({"OpenAIApiKeySecretName": SECRET_NAME})


def test_cors_origins_come_from_the_parameter() -> None:
    origins = "https://example.com,https://shop.example.com:8443"
    cors = cors_of(deployed_template({**WITH_SECRET, "AllowedOrigins": origins}))
    assert cors is not None
    assert cors["allowOrigins"] == ["https://example.com", "https://shop.example.com:8443"]


def test_no_origins_means_no_cors() -> None:
    assert cors_of(deployed_template({**WITH_SECRET, "AllowedOrigins": ""})) is None


@pytest.mark.parametrize(
    "origins",
    ["https://example.com/", "https://a.example, https://b.example", "example.com", "*.example"],
)
def test_malformed_origins_are_rejected(origins: str) -> None:
    # An origin with a path or a trailing slash never equals a browser's Origin header.
    with pytest.raises(TemplateError, match="AllowedOrigins"):
        deployed_template({**WITH_SECRET, "AllowedOrigins": origins})


def test_every_route_is_throttled() -> None:
    deployed = deployed_template(
        {**WITH_SECRET, "ThrottlingRateLimit": "5", "ThrottlingBurstLimit": "8"}
    )
    stage = only_resource_of_type(deployed, "AWS::ApiGatewayV2::Stage")["Properties"]
    assert stage["DefaultRouteSettings"] == {
        "ThrottlingRateLimit": "5",
        "ThrottlingBurstLimit": "8",
    }


def test_throttling_defaults_are_set() -> None:
    parameters = load_template()["Parameters"]
    rate = parameters["ThrottlingRateLimit"]["Default"]
    burst = parameters["ThrottlingBurstLimit"]["Default"]
    assert 0 < rate <= burst


# --- IAM ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "parameters",
    [
        WITH_SECRET,
        {"OpenAIApiKeyParameterName": "/mojang-chat/openai-api-key", "AllowedOrigins": SITE},
        {"OpenAIApiKeyParameterName": "openai-api-key", "AllowedOrigins": SITE},
    ],
    ids=["secret", "ssm-path", "ssm-name"],
)
def test_no_wildcard_actions_and_no_extra_managed_policies(parameters: dict[str, str]) -> None:
    deployed = deployed_template(parameters)
    for statement in iam_statements(deployed):
        assert statement["Effect"] == "Allow"
        for action in as_list(statement["Action"]):
            assert "*" not in action, statement
        for resource in as_list(statement["Resource"]):
            if as_list(statement["Action"]) != [CALLBACK_ACTION]:
                assert resource != "*", statement
    for role in resources_of_type(deployed, "AWS::IAM::Role").values():
        assert set(role["Properties"].get("ManagedPolicyArns", [])) <= ALLOWED_MANAGED_POLICIES


# Resuming a run that waits for the caller (``SendTaskSuccess`` with its task token): IAM has
# no resource type for a callback task's token, so this one action is granted on "*" (a token
# is unguessable, and reaches the function only from the run's own record).
CALLBACK_ACTION = "states:SendTaskSuccess"


def role_statements(deployed: dict[str, Any], logical_id: str) -> list[dict[str, Any]]:
    """Every inline policy statement of the role of a function or a state machine."""
    properties = deployed["Resources"][logical_id]["Properties"]
    role_arn = properties.get("Role") or properties["RoleArn"]
    role = deployed["Resources"][role_arn.strip("<>").removesuffix(".Arn")]
    return [
        statement
        for policy in role["Properties"].get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
    ]


TABLE_ARN = f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/<RunsTable>"


def test_the_secret_is_the_only_thing_the_function_may_read(with_secret: dict[str, Any]) -> None:
    # Secrets Manager appends "-" and six random characters to the name in a secret's ARN.
    secret_arn = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:{SECRET_NAME}-??????"
    secret = {
        "Action": ["secretsmanager:GetSecretValue"],
        "Effect": "Allow",
        "Resource": secret_arn,
    }
    assert secret in role_statements(with_secret, "ChatFunction")
    assert "secretsmanager:GetSecretValue" not in json.dumps(
        [s for s in role_statements(with_secret, "ChatFunction") if s != secret]
    )
    # The workflow's model step reads it too, and so does the /v1 function (Chat Completions
    # and responses call the model in the request)
    assert secret in role_statements(with_secret, "RunStepsFunction")
    assert secret in role_statements(with_secret, "V1Function")


def test_the_runs_functions_reach_only_the_table_and_the_workflow(
    with_secret: dict[str, Any],
) -> None:
    runs = role_statements(with_secret, "V1Function")
    steps = role_statements(with_secret, "RunStepsFunction")
    # (The steps also read the shared Mojang cache, a table of its own.)
    for statements, tables in ((runs, []), (steps, [["<MojangCacheTable.Arn>"]])):
        dynamodb = [s for s in statements if "dynamodb:GetItem" in s["Action"]]
        assert [as_list(s["Resource"]) for s in dynamodb] == [*tables, ["<RunsTable.Arn>"]]
    states = {
        action: as_list(s["Resource"])
        for s in runs
        for action in as_list(s["Action"])
        if action.startswith("states:")
    }
    machine = f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:<RunStateMachine.Name>"
    executions = f"arn:aws:states:{REGION}:{ACCOUNT_ID}:execution:<RunStateMachine.Name>:*"
    assert states == {
        "states:StartExecution": [machine],
        "states:StopExecution": [executions],
        "states:DescribeExecution": [executions],
        CALLBACK_ACTION: ["*"],
    }
    assert "states:" not in json.dumps(steps)
    # And the workflow may invoke its steps function, nothing else
    workflow = role_statements(with_secret, "RunStateMachine")
    assert [as_list(s["Action"]) for s in workflow] == [["lambda:InvokeFunction"]]
    assert set(as_list(workflow[0]["Resource"])) <= {
        f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:<RunStepsFunction>",
        f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:<RunStepsFunction>*",
        f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:<RunStepsFunction>:*",
    }


@pytest.mark.parametrize("table", ["RunsTable", "UsageTable", "MojangCacheTable"])
def test_the_tables_are_on_demand_with_a_ttl(with_secret: dict[str, Any], table: str) -> None:
    assert set(resources_of_type(with_secret, "AWS::DynamoDB::Table")) == {
        "RunsTable",
        "UsageTable",
        "MojangCacheTable",
    }
    properties = with_secret["Resources"][table]["Properties"]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}
    keys = {"RunsTable": ["pk", "sk"], "UsageTable": ["id"], "MojangCacheTable": ["id"]}[table]
    assert properties["KeySchema"] == [
        {"AttributeName": name, "KeyType": kind}
        for name, kind in zip(keys, ("HASH", "RANGE"), strict=False)
    ]
    assert properties["SSESpecification"] == {"SSEEnabled": True}


# --- The cost guard -------------------------------------------------------------------------

GUARD_PARAMETERS = {
    "ClientRequestsPerMinute": "CLIENT_REQUESTS_PER_MINUTE",
    "ClientTokensPerDay": "CLIENT_TOKENS_PER_DAY",
    "TokensPerDay": "TOKENS_PER_DAY",
}


def test_the_cost_guard_is_on_by_default_in_every_function(with_secret: dict[str, Any]) -> None:
    # Given the template's defaults
    parameters = load_template()["Parameters"]
    for environment in function_environments(with_secret).values():
        # Then every function counts in the usage table, with the defaults as its budgets...
        assert environment["USAGE_TABLE_NAME"] == "<UsageTable>"
        settings = Settings.from_env(environment)
        assert settings.usage_table_name == "<UsageTable>"
        for parameter, variable in GUARD_PARAMETERS.items():
            assert environment[variable] == str(parameters[parameter]["Default"])
        # ...none of them off, and the same as the settings' own defaults (unit tests and the
        # command line run with the budgets a deployment gets)
        defaults = Settings()
        assert settings.client_requests_per_minute == defaults.client_requests_per_minute > 0
        assert settings.client_tokens_per_day == defaults.client_tokens_per_day > 0
        assert settings.tokens_per_day == defaults.tokens_per_day > 0


def test_the_cost_guard_budgets_come_from_the_parameters() -> None:
    overrides = {"ClientRequestsPerMinute": "3", "ClientTokensPerDay": "0", "TokensPerDay": "5"}
    deployed = deployed_template({**WITH_SECRET, **overrides})
    for environment in function_environments(deployed).values():
        settings = Settings.from_env(environment)
        assert settings.client_requests_per_minute == 3
        assert settings.client_tokens_per_day == 0  # off
        assert settings.tokens_per_day == 5


@pytest.mark.parametrize(
    ("function", "parameter", "default"),
    [
        ("ChatFunction", "ChatReservedConcurrency", 10),
        ("V1Function", "V1ReservedConcurrency", 5),
        ("RunStepsFunction", "RunStepsReservedConcurrency", 10),
    ],
)
def test_each_function_has_its_reserved_concurrency(
    with_secret: dict[str, Any], function: str, parameter: str, default: int
) -> None:
    properties = with_secret["Resources"][function]["Properties"]
    assert properties["ReservedConcurrentExecutions"] == str(default)
    deployed = deployed_template({**WITH_SECRET, parameter: "3"})
    assert deployed["Resources"][function]["Properties"]["ReservedConcurrentExecutions"] == "3"
    # 0: unreserved (the property is left out, as CloudFormation's "no reservation")
    deployed = deployed_template({**WITH_SECRET, parameter: "0"})
    assert "ReservedConcurrentExecutions" not in deployed["Resources"][function]["Properties"]


def test_the_runs_functions_know_their_table_and_workflow(with_secret: dict[str, Any]) -> None:
    environments = function_environments(with_secret)
    assert environments["V1Function"]["RUNS_TABLE_NAME"] == "<RunsTable>"
    assert environments["V1Function"]["RUN_STATE_MACHINE_ARN"] == "<RunStateMachine>"
    assert environments["V1Function"]["RUN_EXPIRES_SECONDS"] == "600"
    assert environments["RunStepsFunction"]["RUNS_TABLE_NAME"] == "<RunsTable>"
    machine = only_resource_of_type(with_secret, "AWS::StepFunctions::StateMachine")
    assert machine["Properties"]["StateMachineType"] == "STANDARD"
    assert machine["Properties"]["DefinitionSubstitutions"]["RunStepsFunctionArn"] == (
        "<RunStepsFunction.Arn>"
    )


@pytest.mark.parametrize(
    ("name", "arn_suffix"),
    [
        ("/mojang-chat/openai-api-key", "parameter/mojang-chat/openai-api-key"),
        ("openai-api-key", "parameter/openai-api-key"),
    ],
)
def test_the_parameter_is_the_only_thing_the_function_may_read(name: str, arn_suffix: str) -> None:
    deployed = deployed_template({"OpenAIApiKeyParameterName": name, "AllowedOrigins": SITE})
    assert grants(deployed, "ChatFunction") == {
        "ssm:GetParameter": {f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:{arn_suffix}"},
        "dynamodb:UpdateItem": {"<UsageTable.Arn>", "<MojangCacheTable.Arn>"},
        **MOJANG_CACHE_READS_AND_PUTS,
    }


@pytest.mark.parametrize(
    "parameters",
    [
        {"AllowedOrigins": SITE},
        {**WITH_SECRET, "OpenAIApiKeyParameterName": "/mojang-chat/openai-api-key"},
    ],
    ids=["neither", "both"],
)
def test_exactly_one_api_key_source_is_required(parameters: dict[str, str]) -> None:
    with pytest.raises(TemplateError, match="exactly one"):
        deployed_template(parameters)


# --- Configuration --------------------------------------------------------------------------


def function_environments(deployed: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {
        logical_id: function["Properties"]["Environment"]["Variables"]
        for logical_id, function in resources_of_type(deployed, "AWS::Lambda::Function").items()
    }


def test_environment_names_are_settings_fields(with_secret: dict[str, Any]) -> None:
    # Given the names Settings reads (its aliases) and Powertools' own variables
    known = {field.alias for field in Settings.model_fields.values() if field.alias}
    for environment in function_environments(with_secret).values():
        app_names = {name for name in environment if not name.startswith("POWERTOOLS_")}
        # Then the template sets no variable that nothing reads (a typo, a renamed field)
        assert app_names <= known, app_names - known
        assert {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"} <= set(environment)


def test_environment_parses_as_settings_with_the_secret(with_secret: dict[str, Any]) -> None:
    for environment in function_environments(with_secret).values():
        settings = Settings.from_env(environment)
        assert settings.openai_api_key_secret == SECRET_NAME
        assert settings.openai_api_key_parameter is None
        assert settings.openai_api_key is None  # never the key itself
        assert settings.openai_model == "gpt-4o-mini"
        assert settings.openai_base_url is None
        assert settings.max_tool_rounds == 6
        assert settings.log_message_contents is False
        assert environment["POWERTOOLS_METRICS_NAMESPACE"] == "MojangChat"
        assert environment["POWERTOOLS_LOG_LEVEL"] == "INFO"


def test_environment_parses_as_settings_with_the_parameter() -> None:
    deployed = deployed_template(
        {
            "OpenAIApiKeyParameterName": "/mojang-chat/openai-api-key",
            "AllowedOrigins": SITE,
            "OpenAIBaseUrl": "https://models.example.com/v1",
            "OpenAIModel": "llama-3.3-70b",
            "MaxToolRounds": "3",
            "LogMessageContents": "true",
        }
    )
    for environment in function_environments(deployed).values():
        settings = Settings.from_env(environment)
        assert settings.openai_api_key_parameter == "/mojang-chat/openai-api-key"
        assert settings.openai_api_key_secret is None
        assert str(settings.openai_base_url) == "https://models.example.com/v1"
        assert settings.openai_model == "llama-3.3-70b"
        assert settings.max_tool_rounds == 3
        assert settings.log_message_contents is True


# --- Logs and outputs -----------------------------------------------------------------------


def test_every_function_and_the_api_log_with_a_retention(with_secret: dict[str, Any]) -> None:
    log_groups = resources_of_type(with_secret, "AWS::Logs::LogGroup")
    assert all(group["Properties"]["RetentionInDays"] == "30" for group in log_groups.values())
    named = {group["Properties"].get("LogGroupName") for group in log_groups.values()}
    for logical_id in resources_of_type(with_secret, "AWS::Lambda::Function"):
        assert f"/aws/lambda/<{logical_id}>" in named
    stage = only_resource_of_type(with_secret, "AWS::ApiGatewayV2::Stage")["Properties"]
    (access_logs,) = [
        logical_id
        for logical_id in log_groups
        if stage["AccessLogSettings"]["DestinationArn"] == f"<{logical_id}.Arn>"
    ]
    assert "$context.requestId" in stage["AccessLogSettings"]["Format"]
    assert access_logs


def test_outputs(with_secret: dict[str, Any]) -> None:
    outputs = {name: output["Value"] for name, output in with_secret["Outputs"].items()}
    assert outputs["ApiUrl"] == f"https://<HttpApi>.execute-api.{REGION}.amazonaws.com/"
    assert outputs["ChatFunctionName"] == "<ChatFunction>"
    layer_id = next(iter(resources_of_type(with_secret, "AWS::Lambda::LayerVersion")))
    assert outputs["MojangChatLayerArn"] == f"<{layer_id}>"


# --- tests.sam itself -----------------------------------------------------------------------


def test_translate_template_inlines_a_definition_uri(tmp_path: Path) -> None:
    # Given a template whose state machine definition lives in its own file
    (tmp_path / "statemachine").mkdir()
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}
    (tmp_path / "statemachine" / "run.asl.json").write_text(json.dumps(definition))
    (tmp_path / "template.yaml").write_text(
        "Transform: AWS::Serverless-2016-10-31\n"
        "Resources:\n"
        "  RunStateMachine:\n"
        "    Type: AWS::Serverless::StateMachine\n"
        "    Properties:\n"
        "      DefinitionUri: statemachine/run.asl.json\n"
        "      Policies: []\n"
    )
    # When it is translated
    translated = translate_template(tmp_path / "template.yaml")
    # Then the definition is part of the state machine resource
    machine = only_resource_of_type(translated, "AWS::StepFunctions::StateMachine")
    separator, lines = machine["Properties"]["DefinitionString"]["Fn::Join"]
    assert json.loads(separator.join(lines)) == definition


def test_translate_template_fails_on_a_missing_code_uri(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text(
        "Transform: AWS::Serverless-2016-10-31\n"
        "Resources:\n"
        "  Orphan:\n"
        "    Type: AWS::Serverless::Function\n"
        "    Properties: {CodeUri: functions/missing/, Handler: app.handler, Runtime: python3.12}\n"
    )
    with pytest.raises(TemplateError, match="functions/missing/"):
        translate_template(tmp_path / "template.yaml")


# --- Least privilege, action by action ---------------------------------------------------------

SHARED_SECRET_NAME = "mojang-chat/api-shared-secret"


def grants(deployed: dict[str, Any], logical_id: str) -> dict[str, set[str]]:
    """Each action the role of ``logical_id`` is allowed, with the resources it is allowed on."""
    allowed: dict[str, set[str]] = {}
    for statement in role_statements(deployed, logical_id):
        assert statement["Effect"] == "Allow"
        assert "Condition" not in statement
        assert "NotAction" not in statement
        for action in as_list(statement["Action"]):
            allowed.setdefault(action, set()).update(as_list(statement["Resource"]))
    return allowed


# The shared Mojang cache and limiter (DynamoSharedState): BatchGetItem, GetItem, PutItem and
# UpdateItem (the last granted with the cost guard's, on both tables).
MOJANG_CACHE_READS_AND_PUTS = {
    "dynamodb:BatchGetItem": {"<MojangCacheTable.Arn>"},
    "dynamodb:GetItem": {"<MojangCacheTable.Arn>"},
    "dynamodb:PutItem": {"<MojangCacheTable.Arn>"},
}


def test_each_role_grants_exactly_the_actions_its_code_uses() -> None:
    # Given the stack with the key and the shared secret in Secrets Manager
    deployed = deployed_template({**WITH_SECRET, "ApiSharedSecretName": SHARED_SECRET_NAME})
    secret = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:"
    key = {f"{secret}{SECRET_NAME}-??????"}
    shared = {f"{secret}{SHARED_SECRET_NAME}-??????"}
    table = {"<RunsTable.Arn>"}
    usage = {"<UsageTable.Arn>"}
    mojang = {"<MojangCacheTable.Arn>"}
    machine = f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:<RunStateMachine.Name>"
    executions = f"arn:aws:states:{REGION}:{ACCOUNT_ID}:execution:<RunStateMachine.Name>:*"
    steps = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:<RunStepsFunction>"

    # Then /chat reads the key (its model calls) and the shared secret (its callers), and
    # checks and counts in the cost guard's counters (Counters.add: one UpdateItem)...
    # ...and reads and writes the shared Mojang cache and limiter (DynamoSharedState)...
    assert grants(deployed, "ChatFunction") == {
        "secretsmanager:GetSecretValue": key | shared,
        "dynamodb:UpdateItem": usage | mojang,
        **MOJANG_CACHE_READS_AND_PUTS,
    }
    # ...the /v1 API reads the key (Chat Completions and responses call the model), reads and
    # writes records (RunStore: get_item, query, put_item,
    # update_item, delete_item, batch_write_item to delete a thread, transact_write_items of
    # those), starts, stops and describes its executions, and resumes a waiting one...
    assert grants(deployed, "V1Function") == {
        "dynamodb:GetItem": table,
        "dynamodb:Query": table,
        "dynamodb:PutItem": table,
        "dynamodb:DeleteItem": table,
        "dynamodb:BatchWriteItem": table,
        "states:StartExecution": {machine},
        "states:StopExecution": {executions},
        "states:DescribeExecution": {executions},
        CALLBACK_ACTION: {"*"},
        "secretsmanager:GetSecretValue": key | shared,
        "dynamodb:UpdateItem": table | usage,  # records, and admitting a run (the cost guard)
    }
    # ...the workflow's steps read the key and the records (a thread's items: Query), write
    # turns and add tool outputs (UpdateItem), and share the Mojang cache and limiter...
    assert grants(deployed, "RunStepsFunction") == {
        "dynamodb:BatchGetItem": mojang,
        "dynamodb:GetItem": table | mojang,
        "dynamodb:Query": table,
        "dynamodb:PutItem": table | mojang,
        "dynamodb:UpdateItem": table | usage | mojang,
        "secretsmanager:GetSecretValue": key,
    }
    # ...and the workflow invokes its steps function, nothing else (SAM's policy template
    # names the function and its versions/aliases).
    invoke = grants(deployed, "RunStateMachine")
    assert set(invoke) == {"lambda:InvokeFunction"}
    assert invoke["lambda:InvokeFunction"] <= {steps, f"{steps}*", f"{steps}:*"}
    # No inline statement but the callback's names "*" as a resource. The other "*" resources
    # are in the AWS managed policies SAM attaches (ALLOWED_MANAGED_POLICIES): CloudWatch Logs,
    # and X-Ray's PutTraceSegments/PutTelemetryRecords, which have no resource to name (X-Ray
    # has no resource-level permissions for them).
    for role in resources_of_type(deployed, "AWS::IAM::Role").values():
        for policy in role["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                if as_list(statement["Action"]) != [CALLBACK_ACTION]:
                    assert "*" not in as_list(statement["Resource"]), statement
        assert set(role["Properties"].get("ManagedPolicyArns", [])) <= ALLOWED_MANAGED_POLICIES


def test_the_shared_secret_reaches_only_the_api_functions() -> None:
    deployed = deployed_template({**WITH_SECRET, "ApiSharedSecretName": SHARED_SECRET_NAME})
    environments = function_environments(deployed)
    assert environments["ChatFunction"]["API_SHARED_SECRET_SECRET"] == SHARED_SECRET_NAME
    assert environments["V1Function"]["API_SHARED_SECRET_SECRET"] == SHARED_SECRET_NAME
    assert "API_SHARED_SECRET_SECRET" not in environments["RunStepsFunction"]
    # Off by default: no variable, no permission
    default = deployed_template(WITH_SECRET)
    assert all("API_SHARED_SECRET_SECRET" not in e for e in function_environments(default).values())
    assert SHARED_SECRET_NAME not in json.dumps(default)
