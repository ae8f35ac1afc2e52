"""Keep Python's cyclic garbage collector from running in the middle of a predict call.

CPython starts a full collection once enough objects have been promoted to its
oldest generation; in a process holding TensorFlow, Keras and MLflow a full
collection walks millions of objects. Inside a predict call every list and dict
of the answer being built survives the young collections and is promoted, so a
call over many sentences brings the next full collection close. Measured with
a BiLSTM-CRF pyfunc predicting the 1,009 WNUT-17 dev sentences 60 times
(``benchmarks/gc_pauses.py``): 12 of the 60 calls ran a full collection of
0.21-0.30 s and took about twice the median; paused, one call did. Once the
collector is back on, its next young collection meets the call's objects once
and moves the survivors one generation up, instead of the oldest generation
receiving them during the call.

The pause is process-wide, as the collector is: while it lasts, reference
cycles made by any thread wait (other garbage is freed at once, as always). It
is bounded: only calls of at most :data:`MAX_PAUSED_SENTENCES` sentences
pause, as a full collection is a small share of a longer call. The collector is
switched back on only by the call that switched it off, so a collector the
application disabled before the call stays disabled; of calls overlapping in
several threads, the first pauses it and turns it back on when it returns.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

#: Calls over more sentences run with the collector as it is (about 1.2 s of a
#: BiLSTM-CRF's predict, far longer with a transformer, per 5,000 sentences here).
MAX_PAUSED_SENTENCES = 5000


@contextmanager
def collector_paused(sentences: int) -> Iterator[None]:
    """Within the block Python's cyclic garbage collector does not run.

    Args:
        sentences: Sentences the block predicts; over :data:`MAX_PAUSED_SENTENCES`
            nothing is paused.
    """
    paused = sentences <= MAX_PAUSED_SENTENCES and gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()
