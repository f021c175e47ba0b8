"""The Assistants v2 front door: its request bodies (``requests.py``), its wire objects and
their mapping from the core's records (``objects.py``), and its routes (``routes.py``)."""

from mojang_chat.http.assistants.routes import router

__all__ = ["router"]
