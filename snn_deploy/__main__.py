"""``python -m snn_deploy``: Ctrl-C is "interrupted" and status 130 from the first import on."""
import sys

try:
    from snn_deploy.cli import main
except KeyboardInterrupt:
    sys.stderr.write("interrupted\n")
    sys.exit(130)

sys.exit(main())
