"""All scheduler benchmarks: ``python -m bench``."""

from bench import deadline_scan, outbox, outbox_mixed

deadline_scan.main()
outbox.main()
outbox_mixed.main()
