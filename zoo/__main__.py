"""`python -m zoo`: the `zoo` command line."""

import sys

from zoo.cli import main

sys.exit(main())
