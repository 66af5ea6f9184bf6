"""What a Glue-backed asset step does around its job: arguments, launch, the write lease,
retries of transient faults, a failure's cause, the input files consumed, recovery from a dead run
and the metadata the UI plots."""
