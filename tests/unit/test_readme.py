"""README's examples stay true: its mapping is the example file, and it loads."""

from __future__ import annotations

import re

from rolebinder.mapping.model import load_mapping, parse_mapping
from tests.support import HUB_VARIABLES, ROOT


def yaml_blocks(text: str) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", text, flags=re.DOTALL)


def test_the_readme_mapping_is_the_example_file_and_is_valid() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    [block] = yaml_blocks(readme)
    example = ROOT / "examples" / "mapping.yaml"
    assert block == example.read_text(encoding="utf-8")
    assert parse_mapping(block, "README.md") == load_mapping(example)


def test_the_readme_names_only_environment_variables_rolebinder_reads() -> None:
    from rolebinder.entrypoints import config  # noqa: PLC0415

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    known = {v for k, v in vars(config).items() if k.isupper() and isinstance(v, str)}
    known |= HUB_VARIABLES  # until config.py defines them (tests/support.py)
    named = set(re.findall(r"`(ROLEBINDER_[A-Z_]+)`", readme))
    assert named <= known, named - known
