import sys

from flux_adapter.runtime.cli import main

sys.exit(main())
