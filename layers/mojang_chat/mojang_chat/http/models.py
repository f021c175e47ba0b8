"""The models list (``GET /v1/models``, ``GET /v1/models/{model}``): the deployment's one
model, which serves every request whatever a caller names."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from mojang_chat.core.settings import get_settings
from mojang_chat.http.errors import MODEL_WORK, ApiError, v1_responses
from mojang_chat.http.resolver import JsonRouter

router = JsonRouter()


class ModelObject(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "mojang-chat"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelObject]


@router.get(
    "/v1/models",
    summary="List the models (the deployment's one)",
    responses=v1_responses("The completion.", *MODEL_WORK),
)
def list_models() -> ModelList:
    return ModelList(data=[ModelObject(id=get_settings().openai_model)])


@router.get(
    "/v1/models/<model>",
    summary="Retrieve a model",
    responses=v1_responses("The completion.", *MODEL_WORK),
)
def retrieve_model(model: str) -> ModelObject:
    served = get_settings().openai_model
    if model != served:
        raise ApiError(
            404,
            f"The model '{model}' does not exist: this API serves '{served}'.",
            param="model",
            code="model_not_found",
        )
    return ModelObject(id=model)
