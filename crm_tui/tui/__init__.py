"""The Textual user interface. Only this package imports textual; importing it changes nothing
in the process (the command line sets the frame rate and the garbage collector's settings)."""
