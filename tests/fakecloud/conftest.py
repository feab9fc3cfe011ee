"""The fake's own tests check one shape of each answer and event: the cloud here pins every
documented alternative to its first option (fakecloud/shapes.py). tests/fakecloud/test_shapes.py
checks the alternatives themselves, on the default, varied cloud."""

from __future__ import annotations

import pytest

from fakecloud import FakeCloud, ManualClock
from fakecloud.shapes import Shapes


@pytest.fixture
def cloud(clock: ManualClock) -> FakeCloud:
    return FakeCloud(clock=clock, shapes=Shapes.uniform())
