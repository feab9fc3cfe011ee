"""template.yml: parses, every reference resolves, no policy drift, the rules route the events.

No account is needed: references are checked against the template's own names, resource types
and attributes against what the ROS docs list (shared/reference/deploy.md), and the EventBridge
patterns are evaluated with the fake cloud's EventBridge against the sample events and against
the events the fake cloud emits.
"""

from __future__ import annotations

import importlib
import io
import json
import re
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
import yaml
from aliyunsdkecs.request.v20140526.RunInstancesRequest import RunInstancesRequest
from aliyunsdkecs.request.v20140526.StopInstanceRequest import StopInstanceRequest
from aliyunsdkecs.request.v20140526.TagResourcesRequest import TagResourcesRequest

import fakecloud
from fakecloud.eventbridge import Bus, Rule, matches
from rolebinder.cli import main
from rolebinder.deploy import template as tpl
from rolebinder.entrypoints import config
from rolebinder.errors import InputError
from rolebinder.intake.events import (
    API_CALLS,
    IgnoredEvent,
    InstanceCheck,
    SweepRequest,
    parse_delivery,
)
from rolebinder.mapping.model import load_mapping
from rolebinder.mapping.permissions import policy_document
from tests.support import HUB_VARIABLES, call, make_client

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
TEMPLATE = ROOT / "template.yml"
EXAMPLE_MAPPING = ROOT / "examples" / "mapping.yaml"
ACCOUNT = "1234567890123456"

PSEUDO = {
    "ALIYUN::StackName",
    "ALIYUN::StackId",
    "ALIYUN::Region",
    "ALIYUN::AccountId",
    "ALIYUN::TenantId",
    "ALIYUN::ResourceGroupId",
    "ALIYUN::NoValue",
    "ALIYUN::Index",
}
# Resource types and their Fn::GetAtt attributes, as shared/reference/deploy.md and the ROS
# resource pages cited in docs/DEPLOY-NOTES.md list them.
ATTRIBUTES = {
    "ALIYUN::RAM::Role": {"Arn", "RoleId", "RoleName"},
    "ALIYUN::SLS::Project": {"Name"},
    "ALIYUN::SLS::Logstore": {"LogstoreName", "ProjectName"},
    "ALIYUN::SLS::Index": set(),
    "ALIYUN::MNS::Queue": {"ARN.WithSlash", "QueueName", "QueueUrl"},
    "ALIYUN::FC3::Function": {"ARN", "FunctionId", "FunctionName"},
    "ALIYUN::FC3::Trigger": {
        "TriggerId",
        "TriggerName",
        "FunctionName",
        "UrlInternet",
        "UrlIntranet",
    },
    "ALIYUN::FC3::AsyncInvokeConfig": set(),
    "ALIYUN::SLS::Dashboard": {"DashboardName", "DisplayName"},
    "ALIYUN::SLS::Alert": set(),
    # the hub switch (template.yml) and member.yml
    "ALIYUN::RAM::ManagedPolicy": {"PolicyName"},
    "ALIYUN::RAM::AttachPolicyToRole": set(),
    "ALIYUN::EventBridge::Rule": {"RuleARN", "RuleName", "EventBusName"},
}
SUB_REFERENCE = re.compile(r"\$\{([^}]*)\}")
MAX_PATTERN_VALUES = 5  # ROS ALIYUN::EventBridge::Rule: "up to five values" per field


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return tpl.load_template(TEMPLATE)


def resource_types(template: dict[str, Any]) -> dict[str, str]:
    """Logical id -> type."""
    return {name: body["Type"] for name, body in template["Resources"].items()}


def intrinsics(node: Any, path: str = "") -> Iterator[tuple[str, str, Any]]:
    """Every (path, intrinsic name, argument) in a template subtree."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("Ref", "Fn::GetAtt", "Fn::Sub") and len(node) == 1:
                yield path, key, value
            yield from intrinsics(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from intrinsics(value, f"{path}[{index}]")


def unresolved(template: dict[str, Any]) -> list[str]:
    """Every reference that names no parameter, resource, generated id or pseudo parameter."""
    types = resource_types(template)
    parameters = set(template.get("Parameters", {}))
    problems = []
    for path, kind, argument in intrinsics(template):
        for name, attribute in references(kind, argument):
            if attribute is None and name not in parameters | set(types) | PSEUDO:
                problems.append(f"{path}: {kind} {name}")
            elif attribute is not None and attribute not in ATTRIBUTES.get(types.get(name), ()):
                problems.append(f"{path}: {kind} {name}.{attribute}")
    return problems


def references(kind: str, argument: Any) -> Iterator[tuple[str, str | None]]:
    """(name, attribute or None) for each name an intrinsic refers to."""
    if kind == "Ref":
        yield argument, None
    elif kind == "Fn::GetAtt":
        name, attribute = argument
        yield name, attribute
    else:
        text, local = (argument, {}) if isinstance(argument, str) else argument
        for reference in SUB_REFERENCE.findall(text):
            if reference.startswith("!") or reference in local:
                continue  # ${!Literal} escapes; Fn::Sub's own variables are local
            name, _, attribute = reference.partition(".")
            # Pseudo parameters contain '::' but no attribute part.
            yield (reference, None) if "::" in reference else (name, attribute or None)


# -- the file itself --------------------------------------------------------------------------


def test_template_is_plain_yaml_with_long_form_intrinsics_only() -> None:
    # GIVEN the raw text
    text = TEMPLATE.read_text(encoding="utf-8")
    # WHEN it is tokenised
    tokens = {type(token).__name__ for token in yaml.scan(text)}
    # THEN no tag (!Ref), anchor, alias or merge key appears, and it is within the ROS body limit
    assert not tokens & {"TagToken", "AnchorToken", "AliasToken"}
    assert "<<" not in text
    assert len(text.encode()) < 524_288
    document = yaml.safe_load(text)
    assert document["ROSTemplateFormatVersion"] == "2015-09-01"
    assert "Transform" not in document  # native FC 3.0 resources; the transform is FC 2.0 only


def test_every_reference_resolves(template: dict[str, Any]) -> None:
    assert unresolved(template) == []


def test_the_checker_catches_dangling_references(template: dict[str, Any]) -> None:
    # GIVEN a copy with a typo in a Ref, a GetAtt attribute and a Fn::Sub name
    broken = json.loads(json.dumps(template))
    outputs = broken["Outputs"]
    outputs["A"] = {"Value": {"Ref": "ServiceNmae"}}
    outputs["B"] = {"Value": {"Fn::GetAtt": ["LogProject", "ProjectName"]}}
    outputs["C"] = {"Value": {"Fn::Sub": "${Reconcile.Name}-${Nope}-${!Literal}"}}
    outputs["D"] = {"Value": {"Fn::GetAtt": ["InstanceEvents", "ServiceName"]}}
    # THEN each one is reported, and the escaped literal is not
    assert unresolved(broken) == [
        ".Outputs.A.Value: Ref ServiceNmae",
        ".Outputs.B.Value: Fn::GetAtt LogProject.ProjectName",
        ".Outputs.C.Value: Fn::Sub Reconcile.Name",
        ".Outputs.C.Value: Fn::Sub Nope",
        ".Outputs.D.Value: Fn::GetAtt InstanceEvents.ServiceName",
    ]


def test_every_resource_type_is_a_known_ros_type(template: dict[str, Any]) -> None:
    assert set(resource_types(template).values()) <= set(ATTRIBUTES)


def undefined_conditions(template: dict[str, Any]) -> list[str]:
    """Condition names used (a Condition key, Fn::If, Conditions) that are not defined."""
    defined = set(template.get("Conditions", {}))
    used = [
        body["Condition"]
        for section in ("Resources", "Outputs")
        for body in template.get(section, {}).values()
        if "Condition" in body
    ]
    used += [argument[0] for _, kind, argument in if_calls(template)]
    for statement in template.get("Conditions", {}).values():
        used += [n for n in condition_names(statement)]
    return sorted({name for name in used if name not in defined})


def if_calls(node: Any) -> Iterator[tuple[str, str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Fn::If":
                yield "", key, value
            yield from if_calls(value)
    elif isinstance(node, list):
        for value in node:
            yield from if_calls(value)


def condition_names(node: Any) -> Iterator[str]:
    """Plain strings inside Fn::And / Fn::Or / Fn::Not: ROS's references to other conditions."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("Fn::And", "Fn::Or", "Fn::Not"):
                for item in value if isinstance(value, list) else [value]:
                    if isinstance(item, str):
                        yield item
            yield from condition_names(value)
    elif isinstance(node, list):
        for value in node:
            yield from condition_names(value)


def test_every_condition_is_defined(template: dict[str, Any]) -> None:
    # GIVEN the template, and a copy that uses a condition nobody defined
    broken = json.loads(json.dumps(template))
    broken["Resources"]["HubPolicy"]["Condition"] = "HubOff"
    broken["Conditions"]["HubEvents"]["Fn::And"][0] = "HubOnn"
    # THEN the template's are all defined, and the checker notices the typos
    assert undefined_conditions(template) == []
    assert undefined_conditions(broken) == ["HubOff", "HubOnn"]


def test_parameter_defaults_fit_their_constraints(template: dict[str, Any]) -> None:
    for name, spec in template["Parameters"].items():
        default = spec.get("Default")
        assert default is not None, name
        if "AllowedValues" in spec:
            assert default in spec["AllowedValues"], name
        if "AllowedPattern" in spec:
            assert re.fullmatch(spec["AllowedPattern"], default), name
        if spec["Type"] == "Number":
            assert spec.get("MinValue", default) <= default <= spec.get("MaxValue", default), name


# -- functions --------------------------------------------------------------------------------


def test_the_three_functions_and_their_handlers(template: dict[str, Any]) -> None:
    functions = tpl.functions(template)
    assert list(functions) == ["InstanceEvents", "TagEvents", "Reconcile"]
    assert [tpl.directory_of(f) for f in functions] == list(tpl.FUNCTION_DIRS)
    for function_id, body in functions.items():
        props = body["Properties"]
        directory = tpl.directory_of(function_id)
        assert (props["Runtime"], props["Handler"]) == ("python3.12", "index.handler")
        assert (ROOT / "functions" / directory / "index.py").is_file()
        module = importlib.import_module(f"functions.{directory}.index")
        assert callable(module.handler)
        assert props["Code"] == {
            "OssBucketName": {"Ref": "CodeBucket"},
            "OssObjectName": {"Ref": f"{function_id}CodeObject"},
        }
        default_key = template["Parameters"][f"{function_id}CodeObject"]["Default"]
        assert default_key == f"rolebinder/{directory}.zip"
        assert props["Role"] == {"Fn::GetAtt": ["FunctionRole", "Arn"]}
        assert props["LogConfig"] == {
            "Project": {"Fn::GetAtt": ["LogProject", "Name"]},
            "Logstore": {"Fn::GetAtt": ["LogStore", "LogstoreName"]},
        }
    assert tpl.runtime_version(template) == "3.12"
    assert tpl.deployed_names(template) == {
        "instance_events": "rolebinder-instance-events",
        "tag_events": "rolebinder-tag-events",
        "reconcile": "rolebinder-reconcile",
    }


def test_environment_variables_are_ones_rolebinder_reads(template: dict[str, Any]) -> None:
    known = {
        value for name, value in vars(config).items() if name.isupper() and isinstance(value, str)
    }
    assert known >= HUB_VARIABLES
    for function_id, body in tpl.functions(template).items():
        env = body["Properties"]["EnvironmentVariables"]
        assert set(env) <= known, function_id
        assert env[config.MAPPING] == "/code/mapping.compiled.json"
        assert not any(name.startswith("FC_") for name in env)  # reserved by FC


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {n: b["Properties"] for n, b in template["Resources"].items() if b["Type"] == kind}


def test_timeouts_and_async_failure_destination(template: dict[str, Any]) -> None:
    params = template["Parameters"]
    functions = tpl.functions(template)
    assert params["EventTimeout"]["Default"] == 60
    assert params["SweepTimeout"]["Default"] == 600
    assert functions["Reconcile"]["Properties"]["Timeout"] == {"Ref": "SweepTimeout"}
    configs = of_type(template, "ALIYUN::FC3::AsyncInvokeConfig")
    # one async configuration per function, each with FC's retries and the dead-letter queue
    assert sorted(c["FunctionName"]["Fn::GetAtt"][0] for c in configs.values()) == sorted(functions)
    for config_ in configs.values():
        assert config_["FunctionName"]["Fn::GetAtt"][1] == "FunctionName"
        assert config_["MaxAsyncRetryAttempts"] == {"Ref": "MaxAsyncRetryAttempts"}
        destination = config_["DestinationConfig"]["OnFailure"]["Destination"]
        arn = tpl.substitute(
            destination,
            {
                "ALIYUN::Region": "cn-hangzhou",
                "ALIYUN::TenantId": ACCOUNT,
                "DeadLetterQueue.QueueName": "q",
            },
        )
        assert arn == f"acs:mns:cn-hangzhou:{ACCOUNT}:/queues/q/messages"


def test_the_timer_payload_is_a_sweep_request(template: dict[str, Any]) -> None:
    # GIVEN the timer as FC delivers it, with the template's default payload
    timer = template["Resources"]["SweepTimer"]["Properties"]
    params = template["Parameters"]
    assert (timer["TriggerType"], timer["FunctionName"]) == (
        "timer",
        {"Fn::GetAtt": ["Reconcile", "FunctionName"]},
    )
    config_ = timer["TriggerConfig"]
    assert config_["enable"] is True
    payload = params[config_["payload"]["Ref"]]["Default"]
    cron = params[config_["cronExpression"]["Ref"]]["Default"]
    name = timer["TriggerName"]
    event = {"triggerTime": "2024-05-14T02:30:00Z", "triggerName": name, "payload": payload}
    # WHEN the handler's parser reads it
    (trigger,) = parse_delivery(json.dumps(event).encode())
    # THEN it sweeps the configured regions, every 30 minutes (6-field cron, UTC)
    assert trigger == SweepRequest(
        f"timer:{name}:2024-05-14T02:30:00Z", name, "2024-05-14T02:30:00Z", ()
    )
    assert cron.split() == ["0", "0/30", "*", "*", "*", "*"]


# -- the least-privilege policy ----------------------------------------------------------------


def test_no_drift_between_the_template_policy_and_the_mapping(template: dict[str, Any]) -> None:
    # GIVEN the embedded policy with the account ROS would substitute
    names = {"ALIYUN::TenantId": ACCOUNT, "ALIYUN::Region": "cn-hangzhou"}
    embedded = tpl.substitute(tpl.embedded_policy(template), names)
    # THEN it is exactly what rolebinder.mapping.permissions derives from the bundled mapping,
    # confined to
    # the stack's region
    expected = policy_document(load_mapping(EXAMPLE_MAPPING), ACCOUNT, ("cn-hangzhou",))
    assert embedded == expected


def test_policy_ros_prints_the_embedded_block(template: dict[str, Any]) -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["policy", "--ros", "--mapping", str(EXAMPLE_MAPPING)])
    assert code == 0
    assert yaml.safe_load(out.getvalue()) == tpl.embedded_policy(template)


def test_policy_ros_refuses_an_account_id(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["policy", "--ros", "--account-id", ACCOUNT, "--mapping", str(EXAMPLE_MAPPING)])
    assert code == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_the_role_trusts_fc_and_grants_logs_and_queue_separately(template: dict[str, Any]) -> None:
    role = template["Resources"]["FunctionRole"]["Properties"]
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": ["fc.aliyuncs.com"]}
    delivery = tpl.substitute(
        role["Policies"][1]["PolicyDocument"],
        {
            "ALIYUN::Region": "cn-hangzhou",
            "ALIYUN::TenantId": ACCOUNT,
            "LogProject.Name": "p",
            "DeadLetterQueue.QueueName": "q",
        },
    )
    assert [(s["Action"], s["Resource"]) for s in delivery["Statement"]] == [
        (["log:PostLogStoreLogs"], f"acs:log:cn-hangzhou:{ACCOUNT}:project/p/*"),
        (["mns:SendMessage"], f"acs:mns:cn-hangzhou:{ACCOUNT}:/queues/q/messages"),
    ]


# -- EventBridge ------------------------------------------------------------------------------


def pattern_value_lists(pattern: dict[str, Any]) -> Iterator[list[Any]]:
    for value in pattern.values():
        if isinstance(value, dict):
            yield from pattern_value_lists(value)
        else:
            yield value


def eventbridge_triggers(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: props
        for name, props in of_type(template, tpl.TRIGGER_TYPE).items()
        if props["TriggerType"] == "eventbridge"
    }


def test_triggers_follow_the_limits_and_invoke_asynchronously(template: dict[str, Any]) -> None:
    triggers = eventbridge_triggers(template)
    assert len(triggers) == 5  # of the 10 rules the default bus allows for service events
    for props in triggers.values():
        config_ = props["TriggerConfig"]
        pattern = json.loads(config_["eventRuleFilterPattern"])
        assert all(len(values) <= MAX_PATTERN_VALUES for values in pattern_value_lists(pattern))
        assert config_["triggerEnable"] is True
        assert config_["asyncInvocationType"] is True
        assert config_["eventSourceConfig"] == {"eventSourceType": "Default"}
        assert config_["eventSinkConfig"]["deliveryOption"]["eventSchema"] == "CloudEvents"
        assert config_["runOptions"]["mode"] == "event-driven"
        assert config_["runOptions"]["deadLetterQueue"] == {
            "Arn": {"Fn::GetAtt": ["DeadLetterQueue", "ARN.WithSlash"]}
        }
        assert props["Qualifier"] == "LATEST"
        # FC names the rule it creates <function>-<trigger> (the FC trigger page)
        assert re.fullmatch(r"[a-z][a-z0-9-]{1,40}", props["TriggerName"])


def test_triggers_name_the_deployed_functions(template: dict[str, Any]) -> None:
    targets = {
        name: props["FunctionName"]["Fn::GetAtt"]
        for name, props in eventbridge_triggers(template).items()
    }
    assert targets == {
        "InstanceStateTrigger": ["InstanceEvents", "FunctionName"],
        "InstanceStateContentTrigger": ["InstanceEvents", "FunctionName"],
        "InstanceApiCallTrigger": ["InstanceEvents", "FunctionName"],
        "TagApiCallTrigger": ["TagEvents", "FunctionName"],
        "TagChangeTrigger": ["TagEvents", "FunctionName"],
    }


def test_a_trigger_with_a_broken_pattern_is_refused(template: dict[str, Any]) -> None:
    broken = json.loads(json.dumps(template))
    config_ = broken["Resources"]["TagChangeTrigger"]["Properties"]["TriggerConfig"]
    config_["eventRuleFilterPattern"] = '{"source": ["acs.tag"'
    with pytest.raises(InputError, match="TagChangeTrigger: eventRuleFilterPattern is not JSON"):
        tpl.event_rules(broken)


def bus(template: dict[str, Any]) -> Bus:
    return Bus([Rule(r.name, r.pattern, r.target) for r in tpl.event_rules(template)])


INSTANCE, TAGS, NOWHERE = "instance_events", "tag_events", None
# Every file in events/ and where the template's rules deliver it. Files that are not one
# EventBridge event: a JSON array is filtered element by element (event-streaming mode); raw
# ActionTrail records and CloudMonitor notifications never cross the default bus (see
# docs/DEPLOY-NOTES.md for how they reach Function Compute), nor does the FC timer event.
SAMPLE_ROUTES: dict[str, Any] = {
    # Only Running routes: the API-call record is the creation signal, Running its safety net.
    "eventbridge-ecs-instance-statechange-created.json": NOWHERE,
    "eventbridge-ecs-instance-statechange-running.json": INSTANCE,
    "eventbridge-ecs-instance-statechange-data-content.json": INSTANCE,
    "eventbridge-ecs-instance-statechange-stopped.json": NOWHERE,
    # The foreign-account event is delivered; the handler drops it (foreign-account).
    "eventbridge-ecs-instance-statechange-foreign-account.json": INSTANCE,
    # A member's event routed to this bus (a hub's): the same trigger as the member's own.
    "eventbridge-ecs-instance-statechange-routed-from-member.json": INSTANCE,
    "eventbridge-tag-changeonresource.json": TAGS,
    "eventbridge-actiontrail-ecs-runinstances.json": INSTANCE,
    "eventbridge-actiontrail-ecs-createinstance.json": INSTANCE,
    # A failed call has the same eventName: delivered, then ignored (failed-api-call).
    "eventbridge-actiontrail-ecs-runinstances-failed.json": INSTANCE,
    "eventbridge-actiontrail-ecs-tagresources.json": TAGS,
    "eventbridge-actiontrail-ecs-untagresources.json": TAGS,
    # rolebinder's own marker write is delivered like any tag call; the handler drops it.
    "eventbridge-actiontrail-ecs-tagresources-marker.json": TAGS,
    "eventbridge-oss-object-created.json": NOWHERE,
    "eventbridge-streaming-batch.json": [NOWHERE, NOWHERE, NOWHERE],  # Created, Starting, Stopping
    "batch-mixed-events.json": [INSTANCE, NOWHERE, NOWHERE, NOWHERE],
    "actiontrail-ecs-runinstances.json": NOWHERE,
    "actiontrail-ecs-addtags.json": NOWHERE,
    "actiontrail-ecs-removetags.json": NOWHERE,
    "cloudmonitor-ecs-instance-statechange-starting.json": NOWHERE,
    "cloudmonitor-tag-changeonresource.json": NOWHERE,
    "fc-timer-sweep.json": NOWHERE,
}


def test_the_route_table_covers_every_sample() -> None:
    assert sorted(SAMPLE_ROUTES) == sorted(p.name for p in EVENTS.glob("*.json"))


def route(rules: Bus, event: dict[str, Any]) -> str | None:
    targets = rules.targets(event)
    assert len(targets) <= 1, targets  # no event reaches two functions
    return targets[0] if targets else None


@pytest.mark.parametrize("name", sorted(SAMPLE_ROUTES))
def test_the_rules_route_each_sample_event(template: dict[str, Any], name: str) -> None:
    document = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    rules = bus(template)
    if isinstance(document, list):
        elements = [json.loads(e) if isinstance(e, str) else e for e in document]
        assert [route(rules, e) for e in elements] == SAMPLE_ROUTES[name]
    else:
        assert route(rules, document) == SAMPLE_ROUTES[name]


def test_each_rule_matches_at_least_one_sample(template: dict[str, Any]) -> None:
    samples = []
    for path in EVENTS.glob("eventbridge-*.json"):
        document = json.loads(path.read_text(encoding="utf-8"))
        items = document if isinstance(document, list) else [document]
        samples += [json.loads(e) if isinstance(e, str) else e for e in items]
    for rule in tpl.event_rules(template):
        assert any(matches(rule.pattern, event) for event in samples), rule.name


# Where each event the handlers act on belongs, by the name parse_delivery gives it.
# API calls: as their entry in the event-source registry says.
HANDLER_OF = {
    "ecs:Instance:StateChange": INSTANCE,
    "Tag:ChangeOnResource": TAGS,
    **{name: source.function for name, source in API_CALLS.items()},
}


def expected_handler(event: dict[str, Any]) -> str | None:
    """The function that should get an event: the one that acts on it, or none if ignored."""
    (trigger,) = parse_delivery(json.dumps(event).encode())
    if isinstance(trigger, IgnoredEvent):
        return None
    assert isinstance(trigger, InstanceCheck)
    if trigger.event_name == "ecs:Instance:StateChange" and event["data"]["state"] != "Running":
        return None  # by design: the API-call record is the creation signal, Running the net
    return HANDLER_OF[trigger.event_name]


def test_the_rules_route_what_the_fake_cloud_emits(
    template: dict[str, Any], cloud: fakecloud.FakeCloud, server: fakecloud.FakeCloudServer
) -> None:
    # GIVEN the sample world and every event the fake cloud publishes
    fakecloud.apply_seed(cloud, fakecloud.load_seed_file(EVENTS / "seed.yaml"))
    emitted: list[dict[str, Any]] = []
    cloud.events.subscribe(emitted.append)
    client = make_client(server)
    # WHEN an instance is launched, boots, is tagged, and is stopped
    run = RunInstancesRequest()
    run.set_ImageId("aliyun_3_x64_20G_alibase_20240528.vhd")
    run.set_InstanceType("ecs.g7.large")
    run.set_VSwitchId("vsw-bp1rolebinder000001")
    run.set_Tags([{"Key": "team", "Value": "payments"}])
    (instance_id,) = call(client, run)["InstanceIdSets"]["InstanceIdSet"]
    cloud.advance(10)
    tag = TagResourcesRequest()
    tag.set_ResourceType("instance")
    tag.set_ResourceIds([instance_id])
    tag.set_Tags([{"Key": "env", "Value": "prod"}])
    call(client, tag)
    stop = StopInstanceRequest()
    stop.set_InstanceId(instance_id)
    call(client, stop)
    cloud.advance(10)
    # THEN each event reaches exactly the function that acts on it, and ignored ones reach none
    rules = bus(template)
    routed = [(e["type"], route(rules, e), expected_handler(e)) for e in emitted]
    assert [(kind, got) for kind, got, _ in routed] == [(kind, want) for kind, _, want in routed]
    kinds = {(kind, got) for kind, got, _ in routed}
    assert {
        ("ecs:ActionTrail:ApiCall", INSTANCE),
        ("ecs:Instance:StateChange", INSTANCE),
        ("ecs:ActionTrail:ApiCall", TAGS),
        ("tag:Tag:ChangeOnResource", TAGS),
        ("ecs:ActionTrail:ApiCall", NOWHERE),  # StopInstance
        ("ecs:Instance:StateChange", NOWHERE),  # Stopping, Stopped
    } <= kinds
