"""A bridge process that dies (``os._exit``) right after its first fsync, before acknowledging:
the crash the journal must survive. Settings come from the ``DT_*`` environment.

    python -m tests.live.bridge_crash_runner
"""

from __future__ import annotations

import os
import sys
import time

from dt_platform.config import load_settings
from dt_platform.live.bridge import Bridge

CRASH_CODE = 70


def main() -> None:
    bridge = Bridge(load_settings(), flush_s=0.2, batch_s=60, client_id=sys.argv[1])

    def crash() -> None:
        if bridge.stats.received >= int(sys.argv[2]):
            os._exit(CRASH_CODE)

    bridge.after_sync = crash
    bridge.start()
    time.sleep(60)  # the crash comes first; the test fails on this exit otherwise
    os._exit(1)


if __name__ == "__main__":
    main()
