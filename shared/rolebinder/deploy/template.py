"""The deploy template (template.yml): what it names, and the ROS form of the RAM policy.

template.yml embeds `rolebinder.mapping.permissions.policy_document` for the bundled mapping,
written with
`Fn::Sub` for the account; `ros_policy` produces exactly that block, so `rolebinder policy --ros`
regenerates it and `rolebinder build --check` proves the two have not drifted apart.
Operator tooling only: reading a template needs PyYAML, which the CLI already has.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rolebinder.deploy.checkout import ROOT, TEMPLATE
from rolebinder.errors import InputError
from rolebinder.mapping.model import RoleMapping
from rolebinder.mapping.permissions import policy_document

# The checkout this CLI runs from: template.yml, examples/ and dist/ live there.
PROJECT_ROOT = ROOT
DEFAULT_TEMPLATE = TEMPLATE

# Handler directories under functions/, in template order. Local mode and `invoke` derive the
# template's logical id from the directory (instance_events <-> InstanceEvents).
FUNCTION_DIRS = ("instance_events", "tag_events", "reconcile")
TENANT = "${ALIYUN::TenantId}"
# The functions act in the region they are deployed to (ROLEBINDER_REGIONS' default).
STACK_REGION = "${ALIYUN::Region}"
FUNCTION_TYPE = "ALIYUN::FC3::Function"
TRIGGER_TYPE = "ALIYUN::FC3::Trigger"
ROLE_TYPE = "ALIYUN::RAM::Role"
LEAST_PRIVILEGE = "least-privilege"
# `${Service.ServiceName}`-style references inside an Fn::Sub string.
_SUB_REFERENCE = re.compile(r"\$\{([^}!][^}]*)\}")
_RUNTIME = re.compile(r"^python(3\.[0-9]{1,2})$")


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


def _of_type(template: Mapping[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {
        name: body
        for name, body in template["Resources"].items()
        if isinstance(body, dict) and body.get("Type") == kind
    }


def functions(template: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The FC 3.0 functions, by logical id, in template order."""
    return _of_type(template, FUNCTION_TYPE)


def runtime_version(template: Mapping[str, Any]) -> str:
    """The Python version every function runs on ('3.12' for python3.12); InputError if mixed."""
    runtimes = {body.get("Properties", {}).get("Runtime") for body in functions(template).values()}
    found = [_RUNTIME.match(r) for r in runtimes if isinstance(r, str)]
    if len(runtimes) != 1 or not found or found[0] is None:
        raise InputError(f"the template's functions must share one pythonX.Y runtime: {runtimes}")
    return found[0].group(1)


def parameter_defaults(template: Mapping[str, Any]) -> dict[str, str]:
    """Each parameter's default as a string: what a deployment that sets nothing gets."""
    return {
        name: str(spec["Default"])
        for name, spec in template.get("Parameters", {}).items()
        if isinstance(spec, dict) and "Default" in spec
    }


def deployed_names(template: Mapping[str, Any]) -> dict[str, str]:
    """Handler directory -> the function name a default deployment gets."""
    defaults = parameter_defaults(template)
    names = {}
    for function_id, body in functions(template).items():
        name = substitute(body.get("Properties", {}).get("FunctionName"), defaults)
        if isinstance(name, str):
            names[directory_of(function_id)] = name
    return names


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
    """One EventBridge trigger of the template: its pattern and the handler directory it feeds."""

    name: str
    pattern: dict[str, Any]
    target: str


def event_rules(template: Mapping[str, Any]) -> list[RouteRule]:
    """Every EventBridge trigger, its pattern parsed, resolved to handler directories."""
    ids = set(functions(template))
    rules = []
    for name, body in _of_type(template, TRIGGER_TYPE).items():
        props = body.get("Properties", {})
        if props.get("TriggerType") != "eventbridge":
            continue
        function_id = _function_reference(props.get("FunctionName"))
        if function_id not in ids:
            raise InputError(f"trigger {name}: FunctionName names no ALIYUN::FC3::Function")
        pattern = _pattern(name, props.get("TriggerConfig", {}))
        rules.append(RouteRule(name, pattern, directory_of(function_id)))
    return rules


def _function_reference(value: Any) -> str | None:
    if isinstance(value, dict) and set(value) == {"Fn::GetAtt"}:
        resource, attribute = value["Fn::GetAtt"]
        return resource if attribute == "FunctionName" else None
    return None


def _pattern(name: str, config: Mapping[str, Any]) -> dict[str, Any]:
    try:
        pattern = json.loads(config.get("eventRuleFilterPattern", ""))
    except (TypeError, ValueError) as exc:
        raise InputError(f"trigger {name}: eventRuleFilterPattern is not JSON: {exc}") from exc
    if not isinstance(pattern, dict):
        raise InputError(f"trigger {name}: eventRuleFilterPattern is not a JSON object")
    return pattern
