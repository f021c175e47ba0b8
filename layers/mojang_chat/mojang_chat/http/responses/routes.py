"""The Responses front door (``/v1/responses``), on the conversation core: a response is a run
that ends with the caller's calls.

- ``POST /v1/responses``: ``input``, ``instructions``, ``tools`` (function tools: the caller's;
  when the model calls one the response ends with a ``function_call`` item, answered by a
  ``function_call_output`` in the next response), ``tool_choice``, ``parallel_tool_calls``,
  ``previous_response_id`` or ``conversation``, ``max_output_tokens``, ``metadata``,
  ``background`` (on the workflow: poll ``GET``, stop with ``cancel``), ``store: false`` (run
  in the request on the input alone, kept nowhere), ``stream`` (the events of
  ``http/sse.py``). The Mojang tools run on the server: each call is an ``mcp_call`` item.
- ``GET``, ``DELETE /v1/responses/{id}``, ``POST /v1/responses/{id}/cancel``,
  ``GET /v1/responses/{id}/input_items``.

A ``previous_response_id`` older than the latest of its conversation branches off it: a new
conversation holding what that response saw and made.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response

from mojang_chat import container
from mojang_chat.http.errors import MODEL_WORK, v1_responses
from mojang_chat.http.listing import list_object, page_query
from mojang_chat.http.resolver import JsonRouter
from mojang_chat.http.responses.objects import (
    ResponseDeleted,
    ResponseObject,
    inputs_of,
    response_object,
)
from mojang_chat.http.responses.requests import CreateResponseRequest
from mojang_chat.http.sse import json_or_events, reply, response_events
from mojang_chat.runs import RunRecord
from mojang_chat.runs.paging import page_of
from mojang_chat.wiring import conversation_core, request_deadline, step_runner

router = JsonRouter()
# Every route of the door answers the errors of one that calls the model within the request.
RESPONSES = v1_responses("The response.", *MODEL_WORK)


def create(request: CreateResponseRequest, client: str) -> ResponseObject:
    """Check what the schema cannot say, ask the cost guard to admit ``client``, then create
    the response and, unless it is in the background, run it to its end."""
    request.refuse_unsupported()
    core = conversation_core()
    history, outputs, system = request.inputs()
    instructions = "\n\n".join(t for t in (request.instructions, *system) if t)
    options = request.options()
    container.guard().admit(client)
    run = core.create_response(
        messages=history,
        outputs=outputs,
        instructions=instructions,
        options=options,
        previous_response_id=request.previous_response_id,
        conversation_id=request.conversation_id,
        client=client,
        background=bool(request.background),
    )
    if not request.background:
        deadline = request_deadline(router.lambda_context)
        run = step_runner().run_inline(run.thread_id, run.id, deadline)
    body = shown(run)
    if request.store is False:
        core.delete_thread(run.thread_id)  # with the response: neither can be read again
        body.store = False
    return body


def shown(run: RunRecord) -> ResponseObject:
    """The Response object of ``run`` as it stands, with its output."""
    return response_object(run, conversation_core().output(run))


@router.post(
    "/v1/responses",
    summary="Create a response",
    responses={**RESPONSES, 200: json_or_events("The response, or its events.")},
)
def create_response(request: CreateResponseRequest) -> Response[str]:
    whole = create(request, router.client).wire()
    events = response_events(whole) if request.stream else None
    return reply(whole, events, router.request_id)


@router.get("/v1/responses/<response_id>", summary="Retrieve a response", responses=RESPONSES)
def retrieve_response(response_id: str) -> dict[str, Any]:
    return shown(conversation_core().response(response_id)).wire()


@router.post("/v1/responses/<response_id>/cancel", summary="Cancel a response", responses=RESPONSES)
def cancel_response(response_id: str) -> dict[str, Any]:
    core = conversation_core()
    run = core.response(response_id)
    if not run.status.terminal:
        run = core.cancel(run.thread_id, run.id)
    return shown(run).wire()


@router.delete("/v1/responses/<response_id>", summary="Delete a response", responses=RESPONSES)
def delete_response(response_id: str) -> dict[str, Any]:
    conversation_core().delete_response(response_id)
    return ResponseDeleted(id=response_id).model_dump()


@router.get(
    "/v1/responses/<response_id>/input_items",
    summary="List a response's input items",
    responses=RESPONSES,
)
def input_items(response_id: str) -> dict[str, Any]:
    core = conversation_core()
    run = core.response(response_id)
    found = inputs_of(run, core.items(run.thread_id))
    page = page_of(found, page_query(router.query()))
    return list_object(page.data, page.has_more).model_dump(mode="json")
