import sys

from flux_adapter.cli import main

sys.exit(main())
