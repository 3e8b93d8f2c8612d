"""KDF cost of one staff login at the production scrypt parameters: PYTHONPATH=. python bench/login_kdf.py"""
import os
import resource
import time
from archive_media import keys
from archive_media._kdf import KdfParams, memory_bytes
base0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
master = os.urandom(32)
params = KdfParams.generate()  # production default: log2_n=17, r=8, p=1
rec = keys.wrap_slot(master, b"violet harbour cinnamon 42", "a" * 32, "alice", "staff", 1, params)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
times = []
for _ in range(5):
    t = time.perf_counter()
    assert keys.unwrap_slot(rec, b"violet harbour cinnamon 42", "a" * 32, "alice", "staff", 1) == master
    times.append((time.perf_counter() - t) * 1000)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(f"scrypt log2_n={params.log2_n} r={params.r} p={params.p}: memory {memory_bytes(params.log2_n, params.r) >> 20} MiB (theory); "
      f"login unwrap ms: min {min(times):.0f} median {sorted(times)[2]:.0f} max {max(times):.0f}; "
      f"peak RSS {peak/1024:.0f} MiB (process before any KDF {base0/1024:.0f} MiB)")
