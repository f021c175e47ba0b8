"""mojang_chat: plain-English questions about Minecraft players, answered through OpenAI tool
calling over the Mojang API. The package the Lambda functions share (their layer)."""
