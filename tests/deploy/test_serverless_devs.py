"""s.yaml (Serverless Devs, fc3) deploys what template.yml deploys: names, handlers, runtime,
memory, timeout, environment, role, logs, async configuration and triggers.

Both files are reduced to the same plain description of each function, with the template's
parameter defaults and the s.yaml `vars` filled in, and compared. The mutation tests below
prove that the comparison notices a change in each compared property.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from rolebinder.deploy import template as tpl
from tests.deploy.ros import Stack

ROOT = Path(__file__).resolve().parents[2]
S_YAML = ROOT / "s.yaml"
_VAR = re.compile(r"\$\{vars\.([A-Za-z0-9_]+)\}")


def load_s_yaml(path: Path = S_YAML) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def fill_vars(value: Any, variables: dict[str, Any]) -> Any:
    """Serverless Devs' ${vars.x}: a whole-string reference keeps the variable's type."""
    if isinstance(value, dict):
        return {k: fill_vars(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [fill_vars(v, variables) for v in value]
    if isinstance(value, str):
        whole = _VAR.fullmatch(value)
        if whole:
            return variables[whole[1]]
        return _VAR.sub(lambda m: str(variables[m[1]]), value)
    return value


def s_yaml_functions(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Handler directory -> the plain description of what `s deploy` creates."""
    variables = document["vars"]
    described = {}
    for directory, resource in document["resources"].items():
        assert resource["component"] == "fc3", directory
        props = fill_vars(resource["props"], variables)
        described[directory] = {
            "code": props["code"],
            "name": props["functionName"],
            "handler": props["handler"],
            "runtime": props["runtime"],
            "memory": props["memorySize"],
            "timeout": props["timeout"],
            "role": props["role"],
            "internet": props["internetAccess"],
            "env": {k: str(v) for k, v in props["environmentVariables"].items()},
            "logs": (props["logConfig"]["project"], props["logConfig"]["logstore"]),
            "async": _async(props["asyncInvokeConfig"], "maxAsync", "destinationConfig"),
            "triggers": {t["triggerName"]: _trigger(t) for t in props["triggers"]},
        }
    return described


def _async(config: dict[str, Any], prefix: str, destinations: str) -> tuple[Any, ...]:
    return (
        config[f"{prefix}RetryAttempts"],
        config[f"{prefix}EventAgeInSeconds"],
        config[destinations]["onFailure"]["destination"],
    )


def _trigger(trigger: dict[str, Any]) -> tuple[Any, ...]:
    """(type, qualifier, what it fires on) with the pattern parsed, so formatting is free."""
    config = dict(trigger["triggerConfig"])
    if trigger["triggerType"] == "eventbridge":
        config["eventRuleFilterPattern"] = json.loads(config["eventRuleFilterPattern"])
    return trigger["triggerType"], trigger.get("qualifier"), _freeze(config)


def _freeze(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


class TemplateResolver:
    """The values a default deployment of template.yml gets, in a region and account."""

    def __init__(self, template: dict[str, Any], region: str, account: str) -> None:
        self.template = template
        # The default deployment: the hub switch (Fn::If on its Conditions) is off.
        self.conditions = Stack(template, {}, region, account).conditions
        self.names = {
            **{k: v["Default"] for k, v in template["Parameters"].items()},
            "ALIYUN::Region": region,
            "ALIYUN::TenantId": account,
        }
        resources = template["Resources"]
        self.names["LogProject.Name"] = self.value(resources["LogProject"]["Properties"]["Name"])
        queue = resources["DeadLetterQueue"]["Properties"]["QueueName"]
        self.names["DeadLetterQueue.QueueName"] = self.value(queue)
        role = self.value(resources["FunctionRole"]["Properties"]["RoleName"])
        self.attributes = {
            ("FunctionRole", "Arn"): f"acs:ram::{account}:role/{role}",
            ("LogProject", "Name"): self.names["LogProject.Name"],
            ("LogStore", "LogstoreName"): resources["LogStore"]["Properties"]["LogstoreName"],
            ("DeadLetterQueue", "ARN.WithSlash"): (
                f"acs:mns:{region}:{account}:/queues/{self.names['DeadLetterQueue.QueueName']}"
            ),
        }
        self.attributes.update(
            {
                (fid, "FunctionName"): self.value(body["Properties"]["FunctionName"])
                for fid, body in tpl.functions(template).items()
            }
        )

    def value(self, node: Any) -> Any:
        if isinstance(node, dict) and set(node) == {"Fn::If"}:
            condition, when_true, when_false = node["Fn::If"]
            return self.value(when_true if self.conditions[condition] else when_false)
        return self._value(node)

    def _value(self, node: Any) -> Any:
        if isinstance(node, dict) and set(node) == {"Ref"}:
            return self.names[node["Ref"]]
        if isinstance(node, dict) and set(node) == {"Fn::GetAtt"}:
            return self.attributes[tuple(node["Fn::GetAtt"])]
        if isinstance(node, dict) and set(node) == {"Fn::Sub"}:
            text = node["Fn::Sub"]
            return re.sub(r"\$\{([^}]+)\}", lambda m: str(self.names[m[1]]), text)
        if isinstance(node, dict):
            return {k: self.value(v) for k, v in node.items()}
        if isinstance(node, list):
            return [self.value(v) for v in node]
        return node


def template_functions(template: dict[str, Any], region: str, account: str) -> dict[str, Any]:
    """Handler directory -> the plain description of what the ROS stack creates."""
    resolve = TemplateResolver(template, region, account).value
    resources = template["Resources"]
    described = {}
    for function_id, body in tpl.functions(template).items():
        props = resolve(body["Properties"])
        config = next(
            resolve(r["Properties"])
            for r in resources.values()
            if r["Type"] == "ALIYUN::FC3::AsyncInvokeConfig"
            and r["Properties"]["FunctionName"]["Fn::GetAtt"][0] == function_id
        )
        triggers = {
            t["TriggerName"]: _trigger(
                {
                    "triggerType": t["TriggerType"],
                    "qualifier": t.get("Qualifier"),
                    "triggerConfig": t["TriggerConfig"],
                }
            )
            for r in resources.values()
            if r["Type"] == tpl.TRIGGER_TYPE
            and r["Properties"]["FunctionName"]["Fn::GetAtt"][0] == function_id
            for t in [resolve(r["Properties"])]
        }
        directory = tpl.directory_of(function_id)
        described[directory] = {
            "code": f"./dist/{directory}.zip",
            "name": props["FunctionName"],
            "handler": props["Handler"],
            "runtime": props["Runtime"],
            "memory": props["MemorySize"],
            "timeout": props["Timeout"],
            "role": props["Role"],
            "internet": props["InternetAccess"],
            "env": {k: str(v) for k, v in props["EnvironmentVariables"].items()},
            "logs": (props["LogConfig"]["Project"], props["LogConfig"]["Logstore"]),
            "async": (
                config["MaxAsyncRetryAttempts"],
                config["MaxAsyncEventAgeInSeconds"],
                config["DestinationConfig"]["OnFailure"]["Destination"],
            ),
            "triggers": triggers,
        }
    return described


def differences(document: dict[str, Any]) -> list[str]:
    """Every (function, property) on which s.yaml and template.yml disagree."""
    variables = document["vars"]
    ros = template_functions(tpl.load_template(), variables["region"], variables["accountId"])
    devs = s_yaml_functions(document)
    if set(ros) != set(devs):
        return [f"functions: template {sorted(ros)} != s.yaml {sorted(devs)}"]
    return [
        f"{name}.{key}: template {ros[name][key]!r} != s.yaml {devs[name].get(key)!r}"
        for name in ros
        for key in ros[name]
        if ros[name][key] != devs[name].get(key)
    ]


def test_s_yaml_deploys_what_the_template_deploys() -> None:
    assert differences(load_s_yaml()) == []


def test_the_comparison_covers_the_triggers_of_each_function() -> None:
    devs = s_yaml_functions(load_s_yaml())
    kinds = {name: sorted(t[0] for t in f["triggers"].values()) for name, f in devs.items()}
    assert kinds == {
        "instance_events": ["eventbridge"] * 3,
        "tag_events": ["eventbridge"] * 2,
        "reconcile": ["timer"],
    }


def _set(path: str, value: Any) -> Any:
    def change(document: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        node: Any = document
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[last] = value

    return change


P = "resources/instance_events/props"
MUTATIONS = {
    "function name": _set(f"{P}/functionName", "rolebinder-instance"),
    "handler": _set(f"{P}/handler", "main.handler"),
    "runtime": _set(f"{P}/runtime", "python3.10"),
    "memory": _set("vars/eventMemorySize", 512),
    "timeout": _set("vars/sweepTimeout", 300),
    "environment value": _set("vars/dryRun", "1"),
    "environment name": _set(f"{P}/environmentVariables/ROLEBINDER_DRYRUN", "0"),
    "role": _set(f"{P}/role", "acs:ram::1:role/other"),
    "trigger event type": _set(
        f"{P}/triggers/0/triggerConfig/eventRuleFilterPattern",
        '{"source":["acs.ecs"],"type":["ecs:Instance:StateChange"],"data":{"state":["Starting"]}}',
    ),
    "trigger kind": _set(f"{P}/triggers/1/triggerType", "timer"),
    "async retries": _set("vars/maxAsyncRetryAttempts", 0),
    "hub switch on": _set("vars/memberAccounts", "1234567890123456"),
    "member role": _set("vars/memberRole", "other-member"),
    "fan-out on": _set("vars/reconcileFunction", "rolebinder-reconcile"),
    "sweep schedule": _set("vars/sweepCron", "@every 5m"),
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_the_comparison_notices_each_kind_of_drift(name: str) -> None:
    # GIVEN s.yaml with one property changed
    document = copy.deepcopy(load_s_yaml())
    MUTATIONS[name](document)
    # THEN the comparison reports a difference
    assert differences(document) != []
