"""The request limits of the HTTP API: each one number, from which its checks, its error text
and its documentation are all derived (the widget gets the same numbers, see ``widget.js``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

# Above any valid request of messages (21 texts of 2,000 characters, each up to 12 bytes as
# JSON-escaped UTF-8), far below what it costs to parse: bigger bodies are refused before they
# are read (a run's instructions and tools count against it too).
MAX_BODY_BYTES = 512 * 1024
# One question (or one earlier turn) of a conversation, in characters.
MAX_MESSAGE_CHARS = 2000
# The earlier turns a client may send back with a question.
MAX_HISTORY_TURNS = 20

# How deep a request body's JSON may nest (the deepest valid request nests 6 levels), and how
# many characters one of its numbers may have: deeper bodies would exhaust the parser's
# recursion, and Python refuses to convert integers of more than 4,300 digits.
MAX_JSON_DEPTH = 32
MAX_JSON_NUMBER_CHARS = 100

# OpenAI's bounds on an object's metadata: keys, and the characters of a key and of a value.
MAX_METADATA_KEYS = 16
MAX_METADATA_KEY_CHARS = 64
MAX_METADATA_VALUE_CHARS = 512

# An assistant's or a run's instructions, in characters (OpenAI allows 256,000; every model
# call of a run sends them, so they are bounded like the conversation they precede).
MAX_INSTRUCTIONS_CHARS = 32_000
# The caller's function tools of an assistant or a run: OpenAI's Run object shows at most 20.
MAX_FUNCTION_TOOLS = 20
# An assistant's name and description, in characters (OpenAI's bounds).
MAX_NAME_CHARS = 256
MAX_DESCRIPTION_CHARS = 512
# The most messages one request adds to a thread (its own bound is THREAD_MAX_MESSAGES), and
# the most tool outputs one submit carries.
MAX_REQUEST_MESSAGES = MAX_HISTORY_TURNS + 1
MAX_TOOL_OUTPUTS = 128
# The most input items one Responses request (or one conversation's items) may send.
MAX_INPUT_ITEMS = 100
# The most messages one Chat Completions request may send (its body is bounded besides), and
# the longest text one of them may hold: a chat UI's system prompt is longer than a question.
MAX_COMPLETION_MESSAGES = 100
MAX_COMPLETION_MESSAGE_CHARS = MAX_INSTRUCTIONS_CHARS
# One page of a list: OpenAI's ``limit`` is 1 to 100, 20 by default.
MAX_PAGE_ITEMS = 100
DEFAULT_PAGE_ITEMS = 20

# Lambda's limit on the response of a synchronous invocation is 6 MB, counted on the JSON of
# the whole response (status, headers and the body as a JSON string): kept under it, whatever
# the model wrote, a bare gateway error is never what a caller gets.
MAX_RESPONSE_BYTES = 6_000_000

RESPONSE_TOO_LARGE = f"the answer is larger than the {MAX_RESPONSE_BYTES} bytes a response may hold"
BODY_TOO_LARGE = f"the request body is larger than {MAX_BODY_BYTES} bytes"
BODY_TOO_LARGE_DOC = f"The body is larger than {MAX_BODY_BYTES // 1024} KiB."
JSON_TOO_DEEP = f"JSON nested deeper than {MAX_JSON_DEPTH} levels"
JSON_NUMBER_TOO_LONG = f"JSON with a number longer than {MAX_JSON_NUMBER_CHARS} characters"
BODY_NOT_JSON_DOC = (
    f"The body is not JSON, or its JSON nests deeper than {MAX_JSON_DEPTH} levels or has a "
    f"number longer than {MAX_JSON_NUMBER_CHARS} characters."
)
NOT_SENT_AS_JSON_DOC = "The body was not sent with Content-Type: application/json."
MESSAGE_TOO_LONG = f"a message's text is at most {MAX_MESSAGE_CHARS} characters"

Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_MESSAGE_CHARS)
]
"""A message's text: trimmed, 1 to ``MAX_MESSAGE_CHARS`` characters."""

Instructions = Annotated[str, StringConstraints(max_length=MAX_INSTRUCTIONS_CHARS)]
"""Instructions of an assistant or a run: up to ``MAX_INSTRUCTIONS_CHARS`` characters."""

Metadata = Annotated[
    dict[
        Annotated[str, StringConstraints(max_length=MAX_METADATA_KEY_CHARS)],
        Annotated[str, StringConstraints(max_length=MAX_METADATA_VALUE_CHARS)],
    ],
    Field(max_length=MAX_METADATA_KEYS),
]
"""An object's metadata, as OpenAI bounds it."""
