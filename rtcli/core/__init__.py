"""Pure domain logic: no I/O, standard library plus rtcli.protocol/errors/ids/settings only."""
