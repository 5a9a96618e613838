"""`python -m tcpchat server ...`"""

import sys

from .cli import main

sys.exit(main())
