"""The secret scan fails a test that leaks, and only then."""

from __future__ import annotations

import pytest

from tests.secrets_scan import leaks_in
from tests.support import PYTHONPATH

INNER = """
import logging
from fakecloud import FakeCloud

def test_prints_a_configured_secret():
    cloud = FakeCloud(add_default_key=False)
    cloud.add_key("AKID-inner", "inner-secret-value-123")
    print("oops inner-secret-value-123")

def test_logs_a_signature():
    logging.getLogger("rolebinder.test").warning("GET /?Signature=abcdefghijklmnop%3D&x=1")

def test_clean_output():
    print("AKID-inner is an id, not a secret")
"""


@pytest.mark.parametrize(
    ("text", "leaked"),
    [
        ("POST /?Action=X&Signature=eDh%2FCaYBylcoy21%2BeHoEJydEWro%3D", True),
        ("&SecurityToken=CAIS+tok/en==&", True),
        ('{"SecurityToken": "CAISabcdefgh1234"}', True),
        ("Signature=<redacted>", False),
        ("the SignatureDoesNotMatch error", False),
    ],
)
def test_leaks_in_spots_signatures_and_tokens(text: str, leaked: bool) -> None:
    assert bool(leaks_in(text)) is leaked


@pytest.mark.shows_leaks  # pytester echoes the inner run's output, leaks included
def test_a_test_that_leaks_fails(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a test module run under the same plugin
    monkeypatch.setenv("PYTHONPATH", PYTHONPATH)
    pytester.makeconftest('pytest_plugins = ["tests.secrets_scan"]')
    pytester.makepyfile(INNER)

    # WHEN it runs (in its own process: its log records must not reach this test's scan)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")

    # THEN the two leaking tests fail with the scan's message, the clean one passes
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(["*secret in the test's output*"])
    assert "inner-secret-value-123" not in "".join(
        line for line in result.outlines if "secret in the test's output" in line
    )
