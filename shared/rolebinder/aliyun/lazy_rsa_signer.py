"""One import-time adjustment to aliyun-python-sdk-core, installed before the SDK is imported.

The SDK's signer factory imports every signer it knows, and the RSA key-pair signer's
algorithm module imports `cryptography` at once: about 15 ms of every cold start (and 4.7 MB
of the code package) for a signer rolebinder never uses (it signs with AccessKey or STS
credentials: HMAC-SHA1). This registers the same module with the same functions, importing
`cryptography` only if an RSA signature is actually made. Behaviour is unchanged.
"""

from __future__ import annotations

import sys
import types

MODULE = "aliyunsdkcore.auth.algorithm.sha_hmac256"


def get_sign_string(source: str, access_secret: str) -> str:
    """SHA256withRSA, as the SDK's own module computes it (cryptography imported on use)."""
    from aliyunsdkcore.compat import (  # noqa: PLC0415
        b64_decode_bytes,
        b64_encode_bytes,
        ensure_bytes,
        ensure_string,
    )
    from cryptography.hazmat.backends import default_backend  # noqa: PLC0415
    from cryptography.hazmat.primitives import hashes  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import padding  # noqa: PLC0415
    from cryptography.hazmat.primitives.serialization import (  # noqa: PLC0415
        load_der_private_key,
    )

    key = load_der_private_key(
        b64_decode_bytes(ensure_bytes(access_secret)), password=None, backend=default_backend()
    )
    signed = key.sign(ensure_bytes(source), padding.PKCS1v15(), hashes.SHA256())  # type: ignore[call-arg, union-attr]
    return ensure_string(b64_encode_bytes(signed)).replace("\n", "")


def get_signer_name() -> str:
    return "SHA256withRSA"


def get_signer_version() -> str:
    return "1.0"


def get_signer_type() -> str:
    return "PRIVATEKEY"


def install() -> None:
    """Register the lazy module, unless the SDK's own was imported already."""
    if MODULE in sys.modules:
        return
    module = types.ModuleType(MODULE, __doc__)
    for function in (get_sign_string, get_signer_name, get_signer_version, get_signer_type):
        setattr(module, function.__name__, function)
    sys.modules[MODULE] = module
