"""A small evaluator of the ROS template language, for the tests of template.yml and member.yml.

What a stack would get for given parameters: Conditions (Fn::Equals, Fn::Not, Fn::And, Fn::Or,
condition names), resources and outputs kept or dropped by their `Condition`, and the functions
the two templates use (Ref, Fn::GetAtt, Fn::Sub with or without a variable map, Fn::If with
ALIYUN::NoValue, Fn::Join, Fn::Split, Fn::Replace), as the ROS function pages describe them.
Anything else raises, so a template that starts using another function fails its tests until
this evaluator (and the reasoning about it) is extended.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

NO_VALUE = "ALIYUN::NoValue"
_REFERENCE = re.compile(r"\$\{([^}!][^}]*)\}")
_DROP = object()  # what Fn::If gives for ALIYUN::NoValue: the property disappears


class Stack:
    """A template instantiated with parameter values, a region and an account."""

    def __init__(
        self, template: Mapping[str, Any], parameters: Mapping[str, str], region: str, account: str
    ) -> None:
        self.template = template
        defaults = {k: v.get("Default") for k, v in template.get("Parameters", {}).items()}
        unknown = set(parameters) - set(defaults)
        if unknown:
            raise KeyError(f"no such parameters: {sorted(unknown)}")
        self.names: dict[str, Any] = {**defaults, **parameters}
        self.names.update({"ALIYUN::Region": region, "ALIYUN::TenantId": account})
        self.conditions: dict[str, bool] = {}
        for name in template.get("Conditions", {}):
            self.condition(name)

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            self.conditions[name] = bool(self._test(self.template["Conditions"][name]))
        return self.conditions[name]

    def _test(self, node: Any) -> Any:
        if isinstance(node, str) and node in self.template.get("Conditions", {}):
            return self.condition(node)
        if isinstance(node, dict) and len(node) == 1:
            ((kind, argument),) = node.items()
            tests: dict[str, Callable[[Any], Any]] = {
                "Fn::Equals": lambda a: self._test(a[0]) == self._test(a[1]),
                "Fn::Not": lambda a: not self._test(a[0] if isinstance(a, list) else a),
                "Fn::And": lambda a: all(self._test(x) for x in a),
                "Fn::Or": lambda a: any(self._test(x) for x in a),
            }
            if kind in tests:
                return tests[kind](argument)
        return self.value(node)

    def resources(self) -> dict[str, dict[str, Any]]:
        """The resources the stack creates: logical id -> {Type, Properties} (evaluated)."""
        return {
            name: {"Type": body["Type"], "Properties": self.value(body.get("Properties", {}))}
            for name, body in self.template["Resources"].items()
            if "Condition" not in body or self.condition(body["Condition"])
        }

    def outputs(self) -> dict[str, Any]:
        return {
            name: self.value(body["Value"])
            for name, body in self.template.get("Outputs", {}).items()
            if "Condition" not in body or self.condition(body["Condition"])
        }

    def value(self, node: Any) -> Any:
        """Evaluate every function in a subtree."""
        if isinstance(node, list):
            return [v for v in (self.value(item) for item in node) if v is not _DROP]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((kind, argument),) = node.items()
            function = self._functions().get(kind)
            if function is not None:
                return function(argument)
            if kind.startswith("Fn::"):
                raise NotImplementedError(kind)
        evaluated = {key: self.value(item) for key, item in node.items()}
        return {key: item for key, item in evaluated.items() if item is not _DROP}

    def _functions(self) -> dict[str, Callable[[Any], Any]]:
        return {
            "Ref": self._ref,
            "Fn::GetAtt": lambda a: self.attribute(a[0], a[1]),
            "Fn::Sub": self._sub,
            "Fn::If": lambda a: self.value(a[1] if self.condition(a[0]) else a[2]),
            "Fn::Join": lambda a: a[0].join(str(v) for v in self.value(a[1])),
            "Fn::Split": lambda a: self.value(a[1]).split(a[0]),
            "Fn::Replace": self._replace,
        }

    def _ref(self, name: str) -> Any:
        if name == NO_VALUE:
            return _DROP
        if name in self.names:
            return self.names[name]
        if name in self.template["Resources"]:
            return f"<{name}>"
        raise KeyError(f"Ref {name}")

    def _sub(self, argument: Any) -> str:
        text, local = (argument, {}) if isinstance(argument, str) else argument
        local = {key: self.value(item) for key, item in local.items()}

        def one(match: re.Match[str]) -> str:
            name = match[1]
            if name in local:
                return str(local[name])
            if name in self.names:
                return str(self.names[name])
            resource, _, attribute = name.partition(".")
            return str(self.attribute(resource, attribute))

        return _REFERENCE.sub(one, text)

    def _replace(self, argument: Any) -> str:
        pairs, text = argument
        result = self.value(text)
        for old, new in pairs.items():
            result = result.replace(old, self.value(new))
        return result

    def attribute(self, resource: str, attribute: str) -> Any:
        """A resource's name attributes from its own properties; others as a placeholder."""
        body = self.template["Resources"][resource]
        if "Condition" in body and not self.condition(body["Condition"]):
            raise KeyError(f"{resource} is not created, yet {attribute} is read")
        props = body.get("Properties", {})
        own = {"FunctionName": "FunctionName", "RoleName": "RoleName", "QueueName": "QueueName"}
        if attribute in own and own[attribute] in props:
            return self.value(props[own[attribute]])
        if attribute == "Name" and "Name" in props:
            return self.value(props["Name"])
        return f"<{resource}.{attribute}>"
