"""The SDK stand-in module: same functions, same RSA signatures, cryptography only on use."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import aliyunsdkcore

from rolebinder.aliyun import lazy_rsa_signer

ORIGINAL = Path(aliyunsdkcore.__file__).parent / "auth" / "algorithm" / "sha_hmac256.py"


def load_original() -> object:
    spec = importlib.util.spec_from_file_location("sdk_original_sha_hmac256", ORIGINAL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_stand_in_offers_what_the_sdk_module_does() -> None:
    tree = ast.parse(ORIGINAL.read_text(encoding="utf-8"))
    defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert defined == {
        "get_sign_string",
        "get_signer_name",
        "get_signer_version",
        "get_signer_type",
    }
    original = load_original()
    for name in defined - {"get_sign_string"}:
        assert getattr(lazy_rsa_signer, name)() == getattr(original, name)()


def test_it_signs_exactly_as_the_sdk_does() -> None:
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: PLC0415

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    import base64  # noqa: PLC0415

    secret = base64.b64encode(der).decode()
    text = "GET&%2F&Action%3DDescribeRegions"
    assert lazy_rsa_signer.get_sign_string(text, secret) == load_original().get_sign_string(
        text, secret
    )


def test_importing_a_handler_does_not_import_cryptography() -> None:
    code = (
        "import sys; import functions.instance_events.index; print('cryptography' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.stdout.strip() == "False"
