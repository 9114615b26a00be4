"""``rtcli monitor``: a Textual TUI on the live event stream.

Layers (see docs/architecture.md): ``model`` (pure state: buffer, view, filter, rates) and ``parse``
(what people type into the forms); ``feed`` (the one async worker that batches the realtime
client's items into ``messages``); ``widgets``, ``screens`` and ``app`` (the composition root).
``rest`` holds the blocking REST actions the screens run in thread workers. Importing this
package must stay cheap; import ``app`` to run.
"""

import os

FPS = 120


def use_frame_rate() -> None:
    """Ask Textual for up to ``FPS`` frames a second (its default is 60), unless ``TEXTUAL_FPS``
    is set. Textual reads it when first imported: call this before. After a frame Textual waits
    one to two frame periods before the next, so at 60 a key pressed just after a frame of new
    events showed up to 33 ms later, before its own frame was even drawn; frames are drawn only
    when something changed, so a faster rate costs little while nothing happens."""
    os.environ.setdefault("TEXTUAL_FPS", str(FPS))
