"""All scheduler benchmarks: ``python -m bench``."""

from bench import deadline_scan, outbox

deadline_scan.main()
outbox.main()
