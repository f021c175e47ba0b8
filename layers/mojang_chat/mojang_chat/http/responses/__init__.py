"""The Responses front door: its requests (``requests.py``), its wire objects and their mapping
from the core's records (``objects.py``, shared with Conversations), and its routes
(``routes.py``)."""

from mojang_chat.http.responses.routes import router

__all__ = ["router"]
