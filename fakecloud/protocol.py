"""The RPC wire protocol, product-neutral: a request's parameters, its product and action, and
the documented error body. The services' own parameters are read in ecs_api, ram_api, sts and
resourcedirectory. Versions tell the products apart: ECS 2014-05-26, RAM 2015-05-01, STS
2015-04-01, ResourceManager 2020-03-31."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from fakecloud import ecs_api, ram_api, resourcedirectory, sts
from fakecloud.auth import KeyPair
from fakecloud.errors import ApiError

ECS_VERSION = "2014-05-26"
RAM_VERSION = "2015-05-01"


@dataclass
class ApiRequest:
    method: str
    query: str
    body: bytes = b""
    host: str = "127.0.0.1"
    user_agent: str = ""


@dataclass
class ApiResponse:
    status: int
    body: dict[str, Any]
    raw: bytes | None = None  # when set, the bytes sent instead of `body` (a corrupt answer)


@dataclass
class CallInfo:
    """What the pipeline learns of one call as it goes, for the call log and ActionTrail."""

    params: dict[str, str]
    product: str = ""
    key: KeyPair | None = None
    corruption: tuple[str, str | None] | None = None


def parse_params(request: ApiRequest) -> dict[str, str]:
    params = dict(parse_qsl(request.query, keep_blank_values=True))
    if request.body:
        params.update(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
    return params


def route(params: Mapping[str, str]) -> tuple[str, str]:
    version, action = params.get("Version", ""), params.get("Action", "")
    for name, value in (("Action", action), ("Version", version)):
        if not value:
            raise ApiError(
                "MissingParameter",
                f'The input parameter "{name}" that is mandatory for processing this request '
                "is not supplied.",
            )
    products: dict[str, tuple[str, Mapping[str, object]]] = {
        ECS_VERSION: ("ecs", ecs_api.ACTIONS),
        RAM_VERSION: ("ram", ram_api.ACTIONS),
        sts.VERSION: ("sts", sts.ACTIONS),
        resourcedirectory.VERSION: ("resourcemanager", resourcedirectory.ACTIONS),
    }
    product, actions = products.get(version, ("", {}))
    if action not in actions:  # documented for both ECS and RAM
        raise ApiError(
            "InvalidParameter", 'The specified parameter "Action or Version" is not valid.'
        )
    return product, action


# The product endpoint, as the documented error bodies show it (api-facts 4 and 5), whatever
# Host header the fake was reached on; an error before routing names ECS, the default product.
_HOST_IDS = {
    "ecs": "ecs.aliyuncs.com",
    "ram": "ram.aliyuncs.com",
    "sts": "sts.aliyuncs.com",
    "resourcemanager": "resourcemanager.aliyuncs.com",
}
_PRODUCT_CODES = {"resourcemanager": "ResourceManager"}


def error_body(error: ApiError, request_id: str, product: str) -> dict[str, Any]:
    return {
        "RequestId": request_id,
        "HostId": _HOST_IDS.get(product, _HOST_IDS["ecs"]),
        "Code": error.code,
        "Message": error.message,
        "Recommend": "https://next.api.aliyun.com/troubleshoot"
        f"?q={error.code}&product={_PRODUCT_CODES.get(product, product.capitalize() or 'Ecs')}",
    }
