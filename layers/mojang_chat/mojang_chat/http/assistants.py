"""The Assistants v2 front door, on OpenAI's paths and in its shapes, so that programs written
for the Assistants API (the official SDK's ``client.beta.assistants`` and
``client.beta.threads``) work with ``base_url`` pointed at this API:

- assistants: ``POST/GET /v1/assistants``, ``GET/POST/DELETE /v1/assistants/{id}``
  (``asst_default``, the built-in Mojang assistant, can be read but not changed);
- threads: ``POST /v1/threads``, ``GET/POST/DELETE /v1/threads/{thread_id}``;
- messages: ``POST/GET /v1/threads/{thread_id}/messages``,
  ``GET/POST/DELETE /v1/threads/{thread_id}/messages/{message_id}``;
- runs: ``POST/GET /v1/threads/{thread_id}/runs``, ``POST /v1/threads/runs`` (create a thread
  and run it), ``GET/POST /v1/threads/{thread_id}/runs/{run_id}``, ``.../cancel``,
  ``.../submit_tool_outputs`` (the outputs of the caller's own function tools, which a run
  ``requires_action`` for);
- run steps: ``GET /v1/threads/{thread_id}/runs/{run_id}/steps[/{step_id}]``: the server's
  Mojang tool calls show there with their outputs already filled (OpenAI's schema has no field
  to mark them; they are the calls that never appear in ``required_action``);
- ``GET /v1/openapi.json``: the OpenAPI document of these routes; ``GET /v1/docs``: Swagger UI.

The deployment's model serves every assistant and run (``model`` is accepted and ignored, and
the objects show the model used); what this API cannot honour is refused with 400 (see
``http/assistant_requests.py``). Errors have OpenAI's shape,
``{"error": {"message", "type", "param", "code"}}``: 400 for a request OpenAI would refuse (invalid
JSON or parameters, an unsupported option, a message while a run is active, tool outputs the
run does not wait for, a cancel of a finished run), 401 without the shared secret (when one is
configured), 404 for an unknown assistant, thread, message, run, step or URL, 405 for a method
the URL does not have, 413 for a body over ``limits.MAX_BODY_BYTES``, 415 for a body not sent as
JSON, 429 from API Gateway's throttling or when the caller's address is over its budget, 503
when the service's daily budget is spent or its counters cannot be read (only what starts model
work is refused: creating a run and submitting tool outputs; reads never are), 500 when the
service is misconfigured or broken.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from mojang_chat import container
from mojang_chat.chat.model import ModelFailed, ModelRateLimited, ModelUnavailable
from mojang_chat.core.deadline import DeadlineExceeded
from mojang_chat.core.observability import logger
from mojang_chat.core.settings import ConfigurationError, ModelNotConfigured, get_settings
from mojang_chat.guard import BudgetExhausted, ClientLimited, CountersUnavailable
from mojang_chat.http import completions, responses
from mojang_chat.http.assistant_requests import (
    CreateAssistantRequest,
    CreateRunRequest,
    CreateThreadAndRunRequest,
    CreateThreadRequest,
    MetadataRequest,
    ModifyAssistantRequest,
    ModifyThreadRequest,
    NewMessageRequest,
    SubmitToolOutputsRequest,
    new_messages,
    page,
    unsupported,
)
from mojang_chat.http.errors import (
    ApiError,
    OpenAIErrorResponse,
    documented,
    openai_error_body,
    openai_problem,
    openai_refusal_body,
)
from mojang_chat.http.limits import BODY_TOO_LARGE_DOC, NOT_SENT_AS_JSON_DOC
from mojang_chat.http.objects import (
    AssistantObject,
    DeletedObject,
    ListObject,
    MessageObject,
    RunObject,
    RunStepObject,
    ThreadObject,
    assistant_object,
    list_object,
    message_object,
    run_object,
    step_object,
    thread_object,
)
from mojang_chat.http.resolver import JsonApi
from mojang_chat.mojang.tools import mojang_tools
from mojang_chat.runs.errors import InvalidRequest, NotFound
from mojang_chat.runs.service import Conversations, ThreadLimits

ERRORS = {
    400: "Invalid JSON or parameters, an unsupported option, a message or run while a run is "
    "active, tool outputs the run does not wait for, or a cancel of a finished run.",
    401: "A shared secret is configured and neither X-Api-Key nor the bearer token matches.",
    404: "No such assistant, thread, message, run, step or URL.",
    405: "The URL does not take this method (the `Allow` header lists those it takes).",
    413: BODY_TOO_LARGE_DOC,
    415: NOT_SENT_AS_JSON_DOC,
    429: "Too many requests: API Gateway's throttling, or, starting model work (a run, tool "
    "outputs), this address is over its runs per minute or its tokens per day (code "
    "`rate_limit_exceeded`, with `Retry-After`).",
    500: "The service is misconfigured or failed.",
    502: "Chat Completions: the model server answered with an error (code `model_error`).",
    504: "Chat Completions: no answer within the request's deadline (code `deadline_exceeded`).",
    503: "Starting model work: the service's model budget for the day is spent (code "
    "`budget_exhausted`, with `Retry-After`), or its usage counters cannot be reached (code "
    "`guard_unavailable`); Chat Completions: the model is unavailable, rate-limited or not "
    "configured (`model_unavailable`, `model_rate_limited`, `model_not_configured`).",
}


# The model's failures, and what a caller of the /v1 API sees (the most specific class first).
MODEL_ERRORS: dict[type[Exception], tuple[int, str]] = {
    ModelRateLimited: (503, "model_rate_limited"),
    ModelUnavailable: (503, "model_unavailable"),
    ModelNotConfigured: (503, "model_not_configured"),
    ModelFailed: (502, "model_error"),
    DeadlineExceeded: (504, "deadline_exceeded"),
}


@container.per_container
def runs_service() -> Conversations:
    """The conversation core with this container's clients and settings."""
    settings = get_settings()
    return Conversations(
        container.run_store(),
        container.workflow(),
        model=settings.openai_model,
        expires_seconds=settings.run_expires_seconds,
        retention_seconds=settings.runs_retention_days * 86400,
        limits=ThreadLimits(
            thread_max_messages=settings.thread_max_messages,
            tool_output_max_chars=settings.tool_output_max_chars,
        ),
    )


def create_run(thread_id: str, request: CreateRunRequest, client: str) -> RunObject:
    """Check what the schema cannot say, ask the cost guard to admit ``client``, then add the
    additional messages and start the run."""
    service = runs_service()
    assistant = service.assistant(request.assistant_id)
    service.thread(thread_id)
    options = request.options(assistant.tools, mojang_tools.names, request.additional_instructions)
    messages = new_messages(request.additional_messages, "additional_messages")
    container.guard().admit(client)
    run = service.create_run(thread_id, assistant.id, options, messages, client=client)
    return run_object(run)


def create_thread_and_run(request: CreateThreadAndRunRequest, client: str) -> RunObject:
    """Check what the schema cannot say, ask the cost guard to admit ``client``, then create
    the thread and start its run."""
    service = runs_service()
    assistant = service.assistant(request.assistant_id)
    options = request.options(assistant.tools, mojang_tools.names)
    thread = request.thread or CreateThreadRequest()
    thread.refuse_unsupported("thread.")
    messages = new_messages(thread.messages, "thread.messages")
    container.guard().admit(client)
    run = service.create_thread_and_run(
        messages, dict(thread.metadata or {}), assistant.id, options, client=client
    )
    return run_object(run)


def _responses(what: str, *statuses: int) -> dict[int, Any]:
    return {
        200: {"description": what},
        # What the resolver may refuse any request with, before the route runs, too.
        **documented(OpenAIErrorResponse, ERRORS, *sorted({*statuses, 400, 401, 413, 429, 500})),
    }


@container.per_container
def runs_api() -> JsonApi:
    """The resolver of the runs function (built on first use, once the environment is known):
    every Assistants route, and OpenAI's errors for every other path under ``/v1``."""
    app = JsonApi(
        openai_refusal_body,
        title="mojang-chat Assistants API",
        description="OpenAI's Assistants v2 API: assistants, threads, messages, runs (with the "
        "caller's own function tools) and run steps. The deployment's model serves them all.",
        openapi_path="/v1/openapi.json",
        docs_path="/v1/docs",
    )
    read = (400, 404)
    write = (400, 404, 413, 415)
    work = (*write, 503)

    def query() -> dict[str, str]:
        return dict(app.current_event.query_string_parameters or {})

    def model() -> str:
        return runs_service().model

    # --- assistants

    @app.post(
        "/v1/assistants",
        summary="Create an assistant",
        responses=_responses("The assistant.", *write),
    )
    def create_assistant(request: CreateAssistantRequest) -> AssistantObject:
        assistant = runs_service().create_assistant(**request.fields())
        return assistant_object(assistant, model())

    @app.get(
        "/v1/assistants", summary="List assistants", responses=_responses("The assistants.", 400)
    )
    def list_assistants() -> ListObject[AssistantObject]:
        listed = runs_service().list_assistants(page(query()))
        return list_object([assistant_object(a, model()) for a in listed.data], listed.has_more)

    @app.get(
        "/v1/assistants/<assistant_id>",
        summary="Retrieve an assistant",
        responses=_responses("The assistant.", *read),
    )
    def retrieve_assistant(assistant_id: str) -> AssistantObject:
        return assistant_object(runs_service().assistant(assistant_id), model())

    @app.post(
        "/v1/assistants/<assistant_id>",
        summary="Modify an assistant",
        responses=_responses("The assistant.", *write),
    )
    def modify_assistant(assistant_id: str, request: ModifyAssistantRequest) -> AssistantObject:
        changed = runs_service().modify_assistant(assistant_id, **request.changes())
        return assistant_object(changed, model())

    @app.delete(
        "/v1/assistants/<assistant_id>",
        summary="Delete an assistant",
        responses=_responses("The deletion.", *read),
    )
    def delete_assistant(assistant_id: str) -> DeletedObject:
        runs_service().delete_assistant(assistant_id)
        return DeletedObject(id=assistant_id, object="assistant.deleted")

    # --- threads

    @app.post("/v1/threads", summary="Create a thread", responses=_responses("The thread.", *write))
    def create_thread(request: CreateThreadRequest) -> ThreadObject:
        request.refuse_unsupported()
        messages = new_messages(request.messages, "messages")
        thread, _ = runs_service().create_thread(messages, dict(request.metadata or {}))
        return thread_object(thread)

    @app.get(
        "/v1/threads/<thread_id>",
        summary="Retrieve a thread",
        responses=_responses("The thread.", *read),
    )
    def retrieve_thread(thread_id: str) -> ThreadObject:
        return thread_object(runs_service().thread(thread_id))

    @app.post(
        "/v1/threads/<thread_id>",
        summary="Modify a thread",
        responses=_responses("The thread.", *write),
    )
    def modify_thread(thread_id: str, request: ModifyThreadRequest) -> ThreadObject:
        if request.tool_resources:
            raise unsupported("tool_resources", "Unsupported parameter: 'tool_resources'.")
        service = runs_service()
        if "metadata" not in request.model_fields_set:
            return thread_object(service.thread(thread_id))
        return thread_object(service.modify_thread(thread_id, dict(request.metadata or {})))

    @app.delete(
        "/v1/threads/<thread_id>",
        summary="Delete a thread (and cancel its active run)",
        responses=_responses("The deletion.", *read),
    )
    def delete_thread(thread_id: str) -> DeletedObject:
        runs_service().delete_thread(thread_id)
        return DeletedObject(id=thread_id, object="thread.deleted")

    # --- messages

    @app.post(
        "/v1/threads/<thread_id>/messages",
        summary="Create a message",
        responses=_responses("The message.", *write),
    )
    def create_message(thread_id: str, request: NewMessageRequest) -> MessageObject:
        message = runs_service().add_message(thread_id, request.new_message("body"))
        return message_object(message)

    @app.get(
        "/v1/threads/<thread_id>/messages",
        summary="List a thread's messages",
        responses=_responses("The messages.", *read),
    )
    def list_messages(thread_id: str) -> ListObject[MessageObject]:
        parameters = query()
        listed = runs_service().list_messages(
            thread_id, page(parameters), run_id=parameters.get("run_id") or None
        )
        return list_object([message_object(m) for m in listed.data], listed.has_more)

    @app.get(
        "/v1/threads/<thread_id>/messages/<message_id>",
        summary="Retrieve a message",
        responses=_responses("The message.", *read),
    )
    def retrieve_message(thread_id: str, message_id: str) -> MessageObject:
        return message_object(runs_service().message(thread_id, message_id))

    @app.post(
        "/v1/threads/<thread_id>/messages/<message_id>",
        summary="Modify a message",
        responses=_responses("The message.", *write),
    )
    def modify_message(thread_id: str, message_id: str, request: MetadataRequest) -> MessageObject:
        service = runs_service()
        if "metadata" not in request.model_fields_set:
            return message_object(service.message(thread_id, message_id))
        metadata = dict(request.metadata or {})
        return message_object(service.modify_message(thread_id, message_id, metadata))

    @app.delete(
        "/v1/threads/<thread_id>/messages/<message_id>",
        summary="Delete a message",
        responses=_responses("The deletion.", *read),
    )
    def delete_message(thread_id: str, message_id: str) -> DeletedObject:
        runs_service().delete_message(thread_id, message_id)
        return DeletedObject(id=message_id, object="thread.message.deleted")

    # --- runs

    @app.post(
        "/v1/threads/runs",
        summary="Create a thread and run it",
        responses=_responses("The run.", *work),
    )
    def create_and_run(request: CreateThreadAndRunRequest) -> RunObject:
        return create_thread_and_run(request, app.client)

    @app.post(
        "/v1/threads/<thread_id>/runs",
        summary="Create a run",
        responses=_responses("The run.", *work),
    )
    def create(thread_id: str, request: CreateRunRequest) -> RunObject:
        return create_run(thread_id, request, app.client)

    @app.get(
        "/v1/threads/<thread_id>/runs",
        summary="List a thread's runs",
        responses=_responses("The runs.", *read),
    )
    def list_runs(thread_id: str) -> ListObject[RunObject]:
        listed = runs_service().list_runs(thread_id, page(query()))
        return list_object([run_object(r) for r in listed.data], listed.has_more)

    @app.get(
        "/v1/threads/<thread_id>/runs/<run_id>",
        summary="Retrieve a run",
        responses=_responses("The run.", *read),
    )
    def retrieve_run(thread_id: str, run_id: str) -> RunObject:
        return run_object(runs_service().run(thread_id, run_id))

    @app.post(
        "/v1/threads/<thread_id>/runs/<run_id>",
        summary="Modify a run",
        responses=_responses("The run.", *write),
    )
    def modify_run(thread_id: str, run_id: str, request: MetadataRequest) -> RunObject:
        service = runs_service()
        if "metadata" not in request.model_fields_set:
            return run_object(service.run(thread_id, run_id))
        return run_object(service.modify_run(thread_id, run_id, dict(request.metadata or {})))

    @app.post(
        "/v1/threads/<thread_id>/runs/<run_id>/cancel",
        summary="Cancel a run",
        responses=_responses("The run.", *read),
    )
    def cancel_run(thread_id: str, run_id: str) -> RunObject:
        return run_object(runs_service().cancel(thread_id, run_id))

    @app.post(
        "/v1/threads/<thread_id>/runs/<run_id>/submit_tool_outputs",
        summary="Submit the outputs of the caller's tool calls",
        responses=_responses("The run.", *work),
    )
    def submit_tool_outputs(
        thread_id: str, run_id: str, request: SubmitToolOutputsRequest
    ) -> RunObject:
        outputs = request.outputs()
        container.guard().admit(app.client)
        return run_object(runs_service().submit_tool_outputs(thread_id, run_id, outputs))

    # --- run steps

    @app.get(
        "/v1/threads/<thread_id>/runs/<run_id>/steps",
        summary="List a run's steps",
        responses=_responses("The run steps.", *read),
    )
    def list_steps(thread_id: str, run_id: str) -> ListObject[RunStepObject]:
        listed, run = runs_service().list_steps(thread_id, run_id, page(query()))
        return list_object([step_object(s, run) for s in listed.data], listed.has_more)

    @app.get(
        "/v1/threads/<thread_id>/runs/<run_id>/steps/<step_id>",
        summary="Retrieve a run step",
        responses=_responses("The run step.", *read),
    )
    def retrieve_step(thread_id: str, run_id: str, step_id: str) -> RunStepObject:
        step, run = runs_service().step(thread_id, run_id, step_id)
        return step_object(step, run)

    completions.add_routes(app, _responses("The completion.", *work, 502, 504))
    responses.add_routes(app, runs_service, _responses("The response.", *work, 502, 504))
    _errors(app)
    return app


def _errors(app: JsonApi) -> None:
    """Every error in OpenAI's shape: the core's, the cost guard's, the resolver's."""

    def openai_error(
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        kind: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response[str]:
        body = openai_error_body(status, message, param=param, code=code, kind=kind)
        headers = {"X-Request-Id": app.request_id, **(headers or {})}
        return Response(status, "application/json", json.dumps(body), headers=headers)

    def invalid_request(error: RequestValidationError) -> Response[str]:
        message, param, code = openai_problem(error.errors())
        return openai_error(400, message, param=param, code=code)

    def api_error(error: ApiError) -> Response[str]:
        return openai_error(error.status, error.message, param=error.param, code=error.code)

    def not_found(error: NotFound) -> Response[str]:
        return openai_error(404, str(error))

    def refused(error: InvalidRequest) -> Response[str]:
        return openai_error(400, str(error), param=error.param, code=error.code)

    def no_route(error: NotFoundError) -> Response[str]:
        event = app.current_event
        methods = app.methods_of(event.path)
        if methods:
            return openai_error(
                405,
                f"Invalid method for URL ({event.http_method} {event.path}): it takes "
                f"{', '.join(methods)}.",
                code="method_not_allowed",
                headers={"Allow": ", ".join(methods)},
            )
        return openai_error(404, f"Invalid URL ({event.http_method} {event.path})")

    def rate_limited(error: ClientLimited) -> Response[str]:
        # OpenAI's own 429: type names what ran out ("requests", "tokens").
        return openai_error(
            429,
            str(error),
            code="rate_limit_exceeded",
            kind=error.unit,
            headers={"Retry-After": str(error.retry_after)},
        )

    def budget_exhausted(error: BudgetExhausted) -> Response[str]:
        return openai_error(
            503,
            str(error),
            code="budget_exhausted",
            headers={"Retry-After": str(error.retry_after)},
        )

    def guard_unavailable(error: CountersUnavailable) -> Response[str]:
        logger.error("usage counters unavailable", exc_info=error)
        return openai_error(503, str(error), code="guard_unavailable")

    def model_failed(error: Exception) -> Response[str]:
        # The model server's failures, named as such (Chat Completions calls it in-request).
        status, code = next(v for k, v in MODEL_ERRORS.items() if isinstance(error, k))
        headers = {}
        if isinstance(error, ModelRateLimited) and error.retry_after is not None:
            headers["Retry-After"] = str(max(1, round(error.retry_after)))
        return openai_error(status, str(error), code=code, headers=headers)

    def misconfigured(error: ConfigurationError) -> Response[str]:
        logger.error("configuration error", extra={"error": str(error)})
        return openai_error(500, str(error), code="configuration_error")

    def unexpected(error: Exception) -> Response[str]:
        logger.exception("unexpected error")
        return openai_error(500, "The server had an error while processing your request.")

    app.exception_handler(RequestValidationError)(invalid_request)
    app.exception_handler(ApiError)(api_error)
    app.exception_handler(NotFound)(not_found)
    app.exception_handler(InvalidRequest)(refused)
    app.exception_handler(NotFoundError)(no_route)
    app.exception_handler(ClientLimited)(rate_limited)
    app.exception_handler(BudgetExhausted)(budget_exhausted)
    app.exception_handler(CountersUnavailable)(guard_unavailable)
    app.exception_handler(list(MODEL_ERRORS))(model_failed)
    app.exception_handler(ConfigurationError)(misconfigured)
    app.exception_handler(Exception)(unexpected)
