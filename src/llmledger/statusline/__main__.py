"""``python -m llmledger.statusline``: the same as ``llmledger-statusline``."""

import sys

from llmledger.statusline.fast import main

sys.exit(main())
