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
The deployment's model serves every assistant and run (``model`` is accepted and ignored, and
the objects show the model used); what this API cannot honour is refused with 400 (see
``http/assistants/requests.py``). Creating a run and submitting tool outputs start model work:
the cost guard admits the caller first. Errors are mapped for every door in ``http/v1.py``.
"""

from __future__ import annotations

from mojang_chat import container
from mojang_chat.http.assistants.objects import (
    AssistantObject,
    DeletedObject,
    MessageObject,
    RunObject,
    RunStepObject,
    ThreadObject,
    assistant_object,
    message_object,
    run_object,
    step_object,
    thread_object,
)
from mojang_chat.http.assistants.requests import (
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
)
from mojang_chat.http.errors import READ, WORK, WRITE, unsupported, v1_responses
from mojang_chat.http.listing import ListObject, list_object, page_query
from mojang_chat.http.resolver import JsonRouter
from mojang_chat.mojang.tools import mojang_tools
from mojang_chat.wiring import conversation_core

router = JsonRouter()


def create_run(thread_id: str, request: CreateRunRequest, client: str) -> RunObject:
    """Check what the schema cannot say, ask the cost guard to admit ``client``, then add the
    additional messages and start the run."""
    service = conversation_core()
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
    service = conversation_core()
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


# --- assistants


@router.post(
    "/v1/assistants",
    summary="Create an assistant",
    responses=v1_responses("The assistant.", *WRITE),
)
def create_assistant(request: CreateAssistantRequest) -> AssistantObject:
    assistant = conversation_core().create_assistant(**request.fields())
    return assistant_object(assistant, conversation_core().model)


@router.get(
    "/v1/assistants", summary="List assistants", responses=v1_responses("The assistants.", 400)
)
def list_assistants() -> ListObject[AssistantObject]:
    listed = conversation_core().list_assistants(page_query(router.query()))
    model = conversation_core().model
    return list_object([assistant_object(a, model) for a in listed.data], listed.has_more)


@router.get(
    "/v1/assistants/<assistant_id>",
    summary="Retrieve an assistant",
    responses=v1_responses("The assistant.", *READ),
)
def retrieve_assistant(assistant_id: str) -> AssistantObject:
    core = conversation_core()
    return assistant_object(core.assistant(assistant_id), core.model)


@router.post(
    "/v1/assistants/<assistant_id>",
    summary="Modify an assistant",
    responses=v1_responses("The assistant.", *WRITE),
)
def modify_assistant(assistant_id: str, request: ModifyAssistantRequest) -> AssistantObject:
    changed = conversation_core().modify_assistant(assistant_id, **request.changes())
    return assistant_object(changed, conversation_core().model)


@router.delete(
    "/v1/assistants/<assistant_id>",
    summary="Delete an assistant",
    responses=v1_responses("The deletion.", *READ),
)
def delete_assistant(assistant_id: str) -> DeletedObject:
    conversation_core().delete_assistant(assistant_id)
    return DeletedObject(id=assistant_id, object="assistant.deleted")


# --- threads


@router.post(
    "/v1/threads", summary="Create a thread", responses=v1_responses("The thread.", *WRITE)
)
def create_thread(request: CreateThreadRequest) -> ThreadObject:
    request.refuse_unsupported()
    messages = new_messages(request.messages, "messages")
    thread, _ = conversation_core().create_thread(messages, dict(request.metadata or {}))
    return thread_object(thread)


@router.get(
    "/v1/threads/<thread_id>",
    summary="Retrieve a thread",
    responses=v1_responses("The thread.", *READ),
)
def retrieve_thread(thread_id: str) -> ThreadObject:
    return thread_object(conversation_core().thread(thread_id))


@router.post(
    "/v1/threads/<thread_id>",
    summary="Modify a thread",
    responses=v1_responses("The thread.", *WRITE),
)
def modify_thread(thread_id: str, request: ModifyThreadRequest) -> ThreadObject:
    if request.tool_resources:
        raise unsupported("tool_resources", "Unsupported parameter: 'tool_resources'.")
    service = conversation_core()
    if "metadata" not in request.model_fields_set:
        return thread_object(service.thread(thread_id))
    return thread_object(service.modify_thread(thread_id, dict(request.metadata or {})))


@router.delete(
    "/v1/threads/<thread_id>",
    summary="Delete a thread (and cancel its active run)",
    responses=v1_responses("The deletion.", *READ),
)
def delete_thread(thread_id: str) -> DeletedObject:
    conversation_core().delete_thread(thread_id)
    return DeletedObject(id=thread_id, object="thread.deleted")


# --- messages


@router.post(
    "/v1/threads/<thread_id>/messages",
    summary="Create a message",
    responses=v1_responses("The message.", *WRITE),
)
def create_message(thread_id: str, request: NewMessageRequest) -> MessageObject:
    message = conversation_core().add_message(thread_id, request.new_message("body"))
    return message_object(message)


@router.get(
    "/v1/threads/<thread_id>/messages",
    summary="List a thread's messages",
    responses=v1_responses("The messages.", *READ),
)
def list_messages(thread_id: str) -> ListObject[MessageObject]:
    parameters = router.query()
    listed = conversation_core().list_messages(
        thread_id, page_query(parameters), run_id=parameters.get("run_id") or None
    )
    return list_object([message_object(m) for m in listed.data], listed.has_more)


@router.get(
    "/v1/threads/<thread_id>/messages/<message_id>",
    summary="Retrieve a message",
    responses=v1_responses("The message.", *READ),
)
def retrieve_message(thread_id: str, message_id: str) -> MessageObject:
    return message_object(conversation_core().message(thread_id, message_id))


@router.post(
    "/v1/threads/<thread_id>/messages/<message_id>",
    summary="Modify a message",
    responses=v1_responses("The message.", *WRITE),
)
def modify_message(thread_id: str, message_id: str, request: MetadataRequest) -> MessageObject:
    service = conversation_core()
    if "metadata" not in request.model_fields_set:
        return message_object(service.message(thread_id, message_id))
    metadata = dict(request.metadata or {})
    return message_object(service.modify_message(thread_id, message_id, metadata))


@router.delete(
    "/v1/threads/<thread_id>/messages/<message_id>",
    summary="Delete a message",
    responses=v1_responses("The deletion.", *READ),
)
def delete_message(thread_id: str, message_id: str) -> DeletedObject:
    conversation_core().delete_message(thread_id, message_id)
    return DeletedObject(id=message_id, object="thread.message.deleted")


# --- runs


@router.post(
    "/v1/threads/runs",
    summary="Create a thread and run it",
    responses=v1_responses("The run.", *WORK),
)
def create_and_run(request: CreateThreadAndRunRequest) -> RunObject:
    return create_thread_and_run(request, router.client)


@router.post(
    "/v1/threads/<thread_id>/runs",
    summary="Create a run",
    responses=v1_responses("The run.", *WORK),
)
def create(thread_id: str, request: CreateRunRequest) -> RunObject:
    return create_run(thread_id, request, router.client)


@router.get(
    "/v1/threads/<thread_id>/runs",
    summary="List a thread's runs",
    responses=v1_responses("The runs.", *READ),
)
def list_runs(thread_id: str) -> ListObject[RunObject]:
    listed = conversation_core().list_runs(thread_id, page_query(router.query()))
    return list_object([run_object(r) for r in listed.data], listed.has_more)


@router.get(
    "/v1/threads/<thread_id>/runs/<run_id>",
    summary="Retrieve a run",
    responses=v1_responses("The run.", *READ),
)
def retrieve_run(thread_id: str, run_id: str) -> RunObject:
    return run_object(conversation_core().run(thread_id, run_id))


@router.post(
    "/v1/threads/<thread_id>/runs/<run_id>",
    summary="Modify a run",
    responses=v1_responses("The run.", *WRITE),
)
def modify_run(thread_id: str, run_id: str, request: MetadataRequest) -> RunObject:
    service = conversation_core()
    if "metadata" not in request.model_fields_set:
        return run_object(service.run(thread_id, run_id))
    return run_object(service.modify_run(thread_id, run_id, dict(request.metadata or {})))


@router.post(
    "/v1/threads/<thread_id>/runs/<run_id>/cancel",
    summary="Cancel a run",
    responses=v1_responses("The run.", *READ),
)
def cancel_run(thread_id: str, run_id: str) -> RunObject:
    return run_object(conversation_core().cancel(thread_id, run_id))


@router.post(
    "/v1/threads/<thread_id>/runs/<run_id>/submit_tool_outputs",
    summary="Submit the outputs of the caller's tool calls",
    responses=v1_responses("The run.", *WORK),
)
def submit_tool_outputs(
    thread_id: str, run_id: str, request: SubmitToolOutputsRequest
) -> RunObject:
    outputs = request.outputs()
    container.guard().admit(router.client)
    return run_object(conversation_core().submit_tool_outputs(thread_id, run_id, outputs))


# --- run steps


@router.get(
    "/v1/threads/<thread_id>/runs/<run_id>/steps",
    summary="List a run's steps",
    responses=v1_responses("The run steps.", *READ),
)
def list_steps(thread_id: str, run_id: str) -> ListObject[RunStepObject]:
    listed, run = conversation_core().list_steps(thread_id, run_id, page_query(router.query()))
    return list_object([step_object(s, run) for s in listed.data], listed.has_more)


@router.get(
    "/v1/threads/<thread_id>/runs/<run_id>/steps/<step_id>",
    summary="Retrieve a run step",
    responses=v1_responses("The run step.", *READ),
)
def retrieve_step(thread_id: str, run_id: str, step_id: str) -> RunStepObject:
    step, run = conversation_core().step(thread_id, run_id, step_id)
    return step_object(step, run)
