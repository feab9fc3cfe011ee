"""rolebinder's library: everything the Function Compute handlers and the CLI share.

Pure core (no SDK, no I/O, no environment): `events`, `mapping`, `decision`, `outcome`.
Gateways (the only SDK importers): `ecs`, `ram`. Wiring: `config`, `clients`.
The engine (`engine`) runs gather -> decide -> apply over the gateways.
"""

# Runs before any module of this package imports the SDK (see shared.sdkpatch).
from shared import sdkpatch as _sdkpatch

_sdkpatch.install()
