import os
import sys

from local_pipeline.cli import engine_still_running, main

code = main()
if engine_still_running():
    # Stopped, but still inside Whisper's last batch: neither wait for it nor tear the
    # interpreter down under it (Ctrl-C must end the process within seconds).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
sys.exit(code)
