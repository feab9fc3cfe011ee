"""rolebinder: binds the right instance RAM role to ECS instances, from their tags.

The sub-packages are the layers (docs/ARCHITECTURE.md draws them): `intake` parses events,
`domain` and `mapping` decide, `service` gathers, plans and applies, `aliyun` calls the cloud,
`output` writes the outcome lines, `entrypoints` runs one FC invocation, `cli`, `local` and
`deploy` are operator tooling (never packaged for FC). The fake cloud is `fakecloud`, apart.
"""

# Before any module of this package imports the SDK: keeps `cryptography` off the cold start.
from rolebinder.aliyun import lazy_rsa_signer as _lazy_rsa_signer

_lazy_rsa_signer.install()
