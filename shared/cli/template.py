"""The deploy template (template.yml): what it names, and the ROS form of the RAM policy.

template.yml embeds `shared.permissions.policy_document` for the bundled mapping, written with
`Fn::Sub` for the account; `ros_policy` produces exactly that block, so `rolebinder policy --ros`
regenerates it and `rolebinder build --check` proves the two have not drifted apart.
Operator tooling only: reading a template needs PyYAML, which the CLI already has.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.errors import InputError
from shared.mapping import RoleMapping
from shared.permissions import policy_document

# The checkout this CLI runs from: template.yml, examples/ and dist/ live there.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TEMPLATE = PROJECT_ROOT / "template.yml"

# Handler directories under functions/, in template order. Local mode and `invoke` derive the
# template's logical id from the directory (instance_events <-> InstanceEvents).
FUNCTION_DIRS = ("instance_events", "tag_events", "reconcile")
TENANT = "${ALIYUN::TenantId}"
# The functions act in the region they are deployed to (ROLEBINDER_REGIONS' default).
STACK_REGION = "${ALIYUN::Region}"
SERVICE_TYPE = "Aliyun::Serverless::Service"
FUNCTION_TYPE = "Aliyun::Serverless::Function"
RULE_TYPE = "ALIYUN::EventBridge::Rule"
ROLE_TYPE = "ALIYUN::RAM::Role"
LEAST_PRIVILEGE = "least-privilege"
# `${Service.ServiceName}`-style references inside an Fn::Sub string.
_SUB_REFERENCE = re.compile(r"\$\{([^}!][^}]*)\}")


def logical_id(directory: str) -> str:
    """The template's logical id of a handler directory: instance_events -> InstanceEvents."""
    return "".join(part.capitalize() for part in directory.split("_"))


def directory_of(function_id: str) -> str:
    """The handler directory of a logical id: InstanceEvents -> instance_events."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", function_id).lower()


def load_template(path: str | Path = DEFAULT_TEMPLATE) -> dict[str, Any]:
    """Parse a ROS template with yaml.safe_load; InputError when missing or not a template."""
    import yaml  # noqa: PLC0415 - only the commands that read the template pay for it

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read template {path}: {exc.strerror or exc}") from exc
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(f"template {path} is not valid YAML: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("Resources"), dict):
        raise InputError(f"template {path} has no Resources section")
    return document


def service(template: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The transform's service: (logical id, its resource body, functions nested inside)."""
    found = [
        (name, body)
        for name, body in template["Resources"].items()
        if isinstance(body, dict) and body.get("Type") == SERVICE_TYPE
    ]
    if len(found) != 1:
        raise InputError(
            f"the template must declare exactly one {SERVICE_TYPE}, found {len(found)}"
        )
    return found[0]


def functions(template: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The functions nested under the service, by logical id (the transform's nesting)."""
    _, body = service(template)
    return {
        name: value
        for name, value in body.items()
        if isinstance(value, dict) and value.get("Type") == FUNCTION_TYPE
    }


def generated_id(template: Mapping[str, Any], function_id: str) -> str:
    """The logical id the transform gives a function: <Service><Function>."""
    return service(template)[0] + function_id


def default_service_name(template: Mapping[str, Any]) -> str | None:
    """The FC service name a default deployment gets (the ServiceName parameter's default)."""
    name = service(template)[1].get("Properties", {}).get("ServiceName")
    if isinstance(name, dict) and set(name) == {"Ref"}:
        name = template.get("Parameters", {}).get(name["Ref"], {}).get("Default")
    return name if isinstance(name, str) and name else None


def ros_policy(mapping: RoleMapping, regions: tuple[str, ...] = ()) -> dict[str, Any]:
    """The least-privilege policy as a ROS PolicyDocument, the account left to Fn::Sub and the
    regions, unless given, to the stack's own."""
    return _wrap_subs(policy_document(mapping, TENANT, regions or (STACK_REGION,)))


def _wrap_subs(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _wrap_subs(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_wrap_subs(item) for item in value]
    if isinstance(value, str) and "${" in value:
        return {"Fn::Sub": value}
    return value


def substitute(value: Any, names: Mapping[str, str]) -> Any:
    """Resolve Fn::Sub strings whose ${...} are all in `names`; other values stay as they are."""
    if isinstance(value, dict):
        if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
            return _SUB_REFERENCE.sub(lambda m: names.get(m[1], m[0]), value["Fn::Sub"])
        return {key: substitute(item, names) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute(item, names) for item in value]
    return value


def embedded_policy(template: Mapping[str, Any]) -> dict[str, Any]:
    """The PolicyDocument of the function role's least-privilege inline policy."""
    for policy in _role_policies(template):
        name = policy.get("PolicyName")
        text = name.get("Fn::Sub") if isinstance(name, dict) else name
        if isinstance(text, str) and LEAST_PRIVILEGE in text:
            return dict(policy.get("PolicyDocument") or {})
    raise InputError(f"the template's {ROLE_TYPE} has no '*{LEAST_PRIVILEGE}*' inline policy")


def _role_policies(template: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for body in template["Resources"].values():
        if isinstance(body, dict) and body.get("Type") == ROLE_TYPE:
            yield from body.get("Properties", {}).get("Policies", [])


@dataclass(frozen=True)
class RouteRule:
    """One EventBridge rule of the template: its pattern and the handler directory it feeds."""

    name: str
    pattern: dict[str, Any]
    target: str


def event_rules(template: Mapping[str, Any]) -> list[RouteRule]:
    """Every EventBridge rule with an FC target, resolved to handler directories."""
    generated = {generated_id(template, f): directory_of(f) for f in functions(template)}
    rules = []
    for name, body in template["Resources"].items():
        if not isinstance(body, dict) or body.get("Type") != RULE_TYPE:
            continue
        props = body.get("Properties", {})
        for target in props.get("Targets", []):
            directory = _target_directory(target, generated)
            if directory:
                rules.append(RouteRule(name, props.get("FilterPattern", {}), directory))
    return rules


def _target_directory(target: Mapping[str, Any], generated: Mapping[str, str]) -> str | None:
    endpoint = target.get("Endpoint")
    text = endpoint.get("Fn::Sub") if isinstance(endpoint, dict) else endpoint
    if target.get("Type") != "acs.fc.function" or not isinstance(text, str):
        return None
    for reference in _SUB_REFERENCE.findall(text):
        resource, _, attribute = reference.partition(".")
        if attribute == "FunctionName" and resource in generated:
            return generated[resource]
    return None
