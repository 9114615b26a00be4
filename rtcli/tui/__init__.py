"""``rtcli monitor``: a Textual TUI on the live event stream.

Layers (see docs/architecture.md): ``model`` (pure state: buffer, view, filter, rates) and ``parse``
(what people type into the forms); ``feed`` (the one async worker that batches the realtime
client's items into ``messages``); ``widgets``, ``screens`` and ``app`` (the composition root).
``rest`` holds the blocking REST actions the screens run in thread workers. Importing this
package must stay cheap; import ``app`` to run.
"""
