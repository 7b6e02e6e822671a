"""`python -m sfu.native`: whether the SFU's C sender is in use, and if not, why."""

import sys

from sfu.native import main

sys.exit(main())
