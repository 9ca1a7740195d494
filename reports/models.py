"""Report, intake and the processing pipeline arrive with the intake issue."""
