"""`python -m derive` is the `backprop` command."""

import sys

from derive.cli import main

sys.exit(main())
