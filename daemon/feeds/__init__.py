"""Manufacturer (OEM) complaint feeds: cases the manufacturer dispatches become tickets.

Every kind of feed (a drop folder now; mail, HTTP and webhooks later) is just another source of
records: it yields (where, record) pairs, records.read_record turns each into a FeedCase or a
Rejection, and ingest.ingest files them, one ticket per (oem, case_id).
"""
