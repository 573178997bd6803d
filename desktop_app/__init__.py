"""doca-desktop: the desktop app and system tray that run and manage the engine."""
