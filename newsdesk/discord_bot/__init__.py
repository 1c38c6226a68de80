"""The Discord front end: a thin layer that turns Discord events into engine calls and results
into messages. The engine never imports anything from here."""
