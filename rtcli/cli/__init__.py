"""rtcli's command line: one typer app (``main.py``), one module per command group.

Commands are thin: parse, call ``rtcli.client``, render with ``output``. Heavy imports (httpx,
websockets, rich tables) happen inside command functions so ``rtcli --help`` stays fast.
"""
