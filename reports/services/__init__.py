"""Writes on reports, one module per concern: `intake` (`report_submit` and its
validation: the only way a live report enters, whatever the channel), `pipeline`
(processing, queueing, the sweeper), `staff_edits` (corrections, placing, retries) and
`regrouping` (merging issues, moving and splitting reports between issues, undoing those).

A report is committed before anything else happens; processing is queued after commit
and a sweeper re-queues whatever a lost message or a dead worker left behind."""
