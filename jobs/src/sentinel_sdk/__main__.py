import sys

from sentinel_sdk.check import main

raise SystemExit(main(sys.argv[1:]))
