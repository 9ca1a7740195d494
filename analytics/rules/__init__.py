"""Rules and flags: deterministic checks written as SQL, one file per rule, and the
reconcile that turns what they find into flags (docs/scores.md)."""
