"""Background work: periodic jobs run by `hostplane worker` (or inside `hostplane serve`)."""
