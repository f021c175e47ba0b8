"""mojang_chat: plain-English questions about Minecraft players, answered through OpenAI tool
calling over the Mojang API. The package the Lambda functions share (their layer)."""

# The project's version: pyproject.toml reads it from here, the API documents show it.
__version__ = "0.1.0"
