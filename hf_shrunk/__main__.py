import sys

from hf_shrunk.cli import main

sys.exit(main())
