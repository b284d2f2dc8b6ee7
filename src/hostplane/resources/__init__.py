"""Resources: sandboxes (and previews), databases, deployments and computers."""
