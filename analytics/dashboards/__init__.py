"""The dashboards: the staff dashboard in the staff console and the public
accountability page (docs/scores.md)."""
