"""Widgets: the main window, its panels and dialogs. They render models and call the client;
they never block the Qt thread."""
