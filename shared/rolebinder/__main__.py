"""`python -m rolebinder`: the rolebinder command."""

import sys

from rolebinder.cli import main

sys.exit(main())
