"""``make demo``: the whole pipeline on the embedded default data set (stub until the demo issue)."""
import sys


def main() -> int:
    print("snn-deploy demo: the end-to-end pipeline is not assembled yet (issue 7).")
    print("What exists now: the package layout and the `snn-deploy` command; see `snn-deploy --help`.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
