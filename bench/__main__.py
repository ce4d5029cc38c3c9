"""All benchmarks: ``python -m bench``."""

from bench import deadline_scan, intake, outbox, outbox_mixed, reports

deadline_scan.main()
outbox.main()
outbox_mixed.main()
reports.main()
intake.main([])
