"""Qt table models over the Qt-free stores of ``desktop_app.state``."""
