"""Qt-free application state: stores of engine objects kept fresh by the ``/events`` stream."""
