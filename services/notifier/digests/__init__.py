"""Digests: low-severity incidents collected per recipient and period, sent once at a time
of day on the recipient's clock instead of paging anyone."""
