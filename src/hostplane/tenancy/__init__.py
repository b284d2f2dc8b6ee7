"""Organizations, their setup flow and slugs, workspaces, projects and ownership resolution."""
