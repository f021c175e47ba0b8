"""The Chat Completions front door: its request (``requests.py``), its completion object
(``objects.py``) and its route (``routes.py``)."""

from mojang_chat.http.completions.routes import router

__all__ = ["router"]
