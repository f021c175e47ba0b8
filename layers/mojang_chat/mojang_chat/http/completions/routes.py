"""The Chat Completions front door (``POST /v1/chat/completions``), for chat UIs and agent
frameworks that speak Chat Completions.

One request is one conversation, as ``POST /chat``: the Mojang tools run on the server inside
the request (they never show in the answer) and the final answer comes back as one completion.
The caller's own ``tools`` are the caller's: when the model calls one, the completion ends with
those ``tool_calls`` and ``finish_reason: "tool_calls"``, for the caller to run and answer in
its next request. ``stream: true`` gives the same completion as ``chat.completion.chunk``
events (``http/sse.py``).
"""

from __future__ import annotations

import time

from aws_lambda_powertools.event_handler import Response

from mojang_chat.core.settings import get_settings
from mojang_chat.http.completions.objects import completion, completion_id
from mojang_chat.http.completions.requests import ChatCompletionRequest, model_messages
from mojang_chat.http.errors import MODEL_WORK, v1_responses
from mojang_chat.http.openai_requests import function_tools
from mojang_chat.http.resolver import JsonRouter
from mojang_chat.http.sse import completion_chunks, json_or_events, reply
from mojang_chat.wiring import answer, request_deadline

router = JsonRouter()


@router.post(
    "/v1/chat/completions",
    summary="Create a chat completion (the Mojang tools run on the server)",
    responses={
        **v1_responses("The completion.", *MODEL_WORK),
        200: json_or_events("The completion, or its chunks."),
    },
)
def create_completion(request: ChatCompletionRequest) -> Response[str]:
    request.refuse_unsupported()
    tools = function_tools(request.tools or ())
    messages = model_messages(request.messages)
    deadline = request_deadline(router.lambda_context)
    outcome = answer(
        messages, deadline, router.client, client_tools=tools, options=request.options()
    )
    whole = completion(
        outcome, get_settings().openai_model, int(time.time()), completion_id()
    ).wire()
    events = completion_chunks(whole, request.include_usage) if request.stream else None
    return reply(whole, events, router.request_id)
