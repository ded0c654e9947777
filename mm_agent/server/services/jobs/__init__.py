"""Jobs: every transfer, transaction, message and typed-data request of a server wallet.

- ``records``: the contract §4 request object of a job row, the idempotency digest;
- ``queue``: persisting jobs, the worker pool, state changes, event-driven long polls;
- ``approval``: opening a human approval (``AWAITING_MFA``) and notifying it;
- ``steps``: the pipeline (preview → policy → approval or sign & store → broadcast → confirm)
  and the re-checked continuation after an approval;
- ``reconcile``: crash recovery and the approval-expiry sweep;
- ``runner``: ``JobRunner``, the object the app builds and the routes use.

Import from the modules (``jobs.runner.JobRunner``, ``jobs.records.job_to_request``): this
package's ``__init__`` stays empty so that ``policy.py`` can use ``records`` while ``runner``
uses ``policy``.
"""
