"""The conversation core's service, behind every front door: one object that holds
assistants (``runs/assistants.py``), threads and their messages (``runs/threads.py``), runs
and their steps (``runs/lifecycle.py``) and responses (``runs/responses.py``). The store and the
workflow come in as adapters; the core knows neither AWS nor any API's shapes.
"""

from __future__ import annotations

from mojang_chat.runs.responses import Responses


class ConversationCore(Responses):
    """Assistants, threads, messages, runs, run steps and responses, over one store and one
    workflow (see ``runs.base.CoreBase`` for what it is made with)."""
