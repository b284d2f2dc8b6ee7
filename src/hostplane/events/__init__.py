"""The event log: what happened to the platform's objects, in commit order, for pull and stream."""
