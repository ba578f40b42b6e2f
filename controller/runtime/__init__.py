"""The process: the work queue (`work_queue`), one object's pass (`pass_runner`), the operator that puts
them and the clock together (`operator`), kopf's registry (`registry`), leader election, the start-up
checks (`preflight`), returning freed memory (`heap`) and `run` (`main`)."""
