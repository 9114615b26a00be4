"""Modal screens of the monitor: forms, the upload dialog, help."""
