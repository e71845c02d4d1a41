"""A reader that goes away (`hromada ... | head`) makes the command exit 141, as if
killed by SIGPIPE, quietly: not 0, which hid results such as a failed MIC check."""

import subprocess
import sys


def test_a_closed_pipe_exits_141_without_a_traceback():
    proc = subprocess.Popen([sys.executable, "-m", "hromada", "devices", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.read(5)        # the reader takes a little, then closes
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 141
    assert err == b""
