"""Code run in a fresh interpreter, where earlier tests cannot shift it.

:func:`run_source` runs Python source in a new process and returns what it
printed; :func:`peak_bytes` measures the peak memory of calls there.


tracemalloc's peak counts what a call allocates while tracing, but also
whatever the process does then for reasons of its own: the first run of a code
path (imports, caches), and garbage of earlier tests that the cyclic collector
happens to free or keep. Which of these happen depends on the tests that ran
before, so a limit that holds alone can fail after another test (seen:
test_inference then test_soft_targets). Here every measurement runs in a fresh
interpreter, each call is made once untraced first (paying the one-time
costs), and the collector runs before tracing starts and is off while tracing.
Calls run in one evaluation thread (``threadpool_limits(1)``, which a fit
honours as a request for one thread): with several, how many blocks'
temporaries are alive at once depends on how the threads are scheduled, that
is on the machine's load, not on the code (a 1.3 MB swing was seen).
"""

import json
import os
import subprocess
import sys
import textwrap

_RUNNER = """
import gc, json, tracemalloc, warnings
from threadpoolctl import threadpool_limits
warnings.simplefilter("ignore")
{setup}
peaks = {{}}
for name, call in calls.items():
    with threadpool_limits(1):
        call()  # the first run pays for imports and caches
        gc.collect()
        gc.disable()
        tracemalloc.start()
        try:
            call()
            peaks[name] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
            gc.enable()
print(json.dumps({{"peaks": peaks, "sizes": globals().get("sizes", {{}})}}))
"""


def run_source(source: str) -> str:
    """Run Python ``source`` (dedented) in a new interpreter; return its stdout.

    It runs in the repository's root, and must exit 0.
    """
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(source)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def peak_bytes(setup: str) -> tuple[dict[str, int], dict]:
    """Run ``setup`` in a new interpreter; return each call's peak traced bytes.

    ``setup`` is Python source that defines ``calls``, a dict from names to
    functions of no argument, and may define ``sizes``, a dict of numbers
    (JSON) to bring back too. Returns the peaks by name, and ``sizes``.
    """
    output = run_source(_RUNNER.format(setup=textwrap.dedent(setup)))
    result = json.loads(output.splitlines()[-1])
    return result["peaks"], result["sizes"]
