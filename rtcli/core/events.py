"""Event names: every id/* combination of a resource event, as Appwrite's Event::generateEvents.

An event is described by its resource path, e.g. ``[("databases", "D"), ("tables", "T"),
("rows", "R")]``, an action (``create``/``update``/``upsert``/``delete``) and an optional
attribute (``update.name``). The names are:

- at full depth, for every combination of each id being itself or ``*``: the name with
  ``action.attribute``, with ``action``, and bare;
- at each shorter depth (the parents), every combination, bare.

TablesDB rows are mirrored to the legacy ``databases…collections…documents`` and
``databases…tables…rows`` shapes (64 names; 42 for a legacy database).
"""

from __future__ import annotations

from itertools import product

Path = list[tuple[str, str]]


def _combos(path: Path) -> list[str]:
    """Every 'a.X.b.Y' string with each id either itself or '*', the exact one first."""
    choices = [(seg, (ident, "*")) for seg, ident in path]
    out = []
    for ids in product(*(c[1] for c in choices)):
        out.append(".".join(f"{seg}.{i}" for (seg, _), i in zip(choices, ids)))
    return out


def generate(path: Path, action: str | None = None, attribute: str | None = None) -> list[str]:
    """All event names of one resource shape, most specific first."""
    with_action: list[str] = []
    bare: list[str] = []
    for full in _combos(path):
        if action and attribute:
            with_action.append(f"{full}.{action}.{attribute}")
        if action:
            with_action.append(f"{full}.{action}")
        bare.append(full)
    if action and attribute and len(path) > 1:
        # Appwrite also builds type.resource.action.attribute (teams.T.update.status for a
        # membership's update.status): 16 names there, not 14.
        with_action.extend(f"{top}.{action}.{attribute}" for top in _combos(path[:1]))
    # The exact name with its action comes first, as in Appwrite; parents follow, deepest first.
    names = with_action + bare
    for depth in range(len(path) - 1, 0, -1):
        names.extend(_combos(path[:depth]))
    return names


def _row_events(database_id: str, table_id: str, row_id: str, action: str, db_type: str) -> list[str]:
    shapes: list[Path] = []
    if db_type == "tablesdb":
        shapes.append([("tablesdb", database_id), ("tables", table_id), ("rows", row_id)])
    shapes.append([("databases", database_id), ("collections", table_id), ("documents", row_id)])
    shapes.append([("databases", database_id), ("tables", table_id), ("rows", row_id)])
    seen: dict[str, None] = {}
    for shape in shapes:
        for name in generate(shape, action):
            seen.setdefault(name, None)
    return list(seen)


# Every row event of one (database type, action) has the same 64 names but for the three ids:
# generate them once with placeholders, then fill the ids in with three replaces on one string.
# (Generating them each time cost ~175 µs an event, most of a replay's time.)
_D, _T, _R = "\x01", "\x02", "\x03"
_row_templates: dict[tuple[str, str], str] = {}


def row_events(database_id: str, table_id: str, row_id: str, action: str, db_type: str = "tablesdb") -> list[str]:
    """The 64 names of a TablesDB row event (42 in a legacy database), deduplicated, in order."""
    template = _row_templates.get((db_type, action))
    if template is None:
        template = _row_templates[(db_type, action)] = "\n".join(_row_events(_D, _T, _R, action, db_type))
    return template.replace(_D, database_id).replace(_T, table_id).replace(_R, row_id).split("\n")


_TOPIC, _MESSAGE = "\x04", "\x05"
_message_template = ""


def topic_message_events(topic_id: str, message_id: str) -> list[str]:
    """The 10 names of a topic message's event (``topics.T.messages.M.create`` and their ``*``
    combinations), filled into a template as row events are: generating them each time would
    cost a message more than the rest of its publish."""
    global _message_template
    if not _message_template:
        _message_template = "\n".join(generate([("topics", _TOPIC), ("messages", _MESSAGE)], "create"))
    return _message_template.replace(_TOPIC, topic_id).replace(_MESSAGE, message_id).split("\n")


def action_of(event: str) -> str | None:
    """The action of an event name: its last segment, or its second-to-last (``update.name``)."""
    parts = event.split(".")
    if parts[-1] in ACTIONS:
        return parts[-1]
    if len(parts) >= 2 and parts[-2] in ACTIONS:
        return parts[-2]
    return None


ACTIONS = frozenset({"create", "update", "upsert", "delete"})


def expand(primary: str) -> list[str]:
    """All names of an event from its most specific name (what the event log stores).

    ``tablesdb.D.tables.T.rows.R.create`` gives the 64 mirrored names; any other
    ``seg.id.seg.id….action[.attribute]`` gives ``generate()``'s names.
    """
    parts = primary.split(".")
    action = attribute = None
    if len(parts) % 2 == 1 and parts[-1] in ACTIONS:
        action, parts = parts[-1], parts[:-1]
    elif len(parts) % 2 == 0 and len(parts) >= 4 and parts[-2] in ACTIONS:
        action, attribute, parts = parts[-2], parts[-1], parts[:-2]
    path = list(zip(parts[0::2], parts[1::2]))
    if len(path) == 3 and path[0][0] == "tablesdb" and action and not attribute:
        return row_events(path[0][1], path[1][1], path[2][1], action, "tablesdb")
    if len(path) == 3 and path[0][0] == "databases" and path[1][0] == "collections" and action and not attribute:
        return row_events(path[0][1], path[1][1], path[2][1], action, "legacy")
    if len(path) == 2 and path[0][0] == "topics" and path[1][0] == "messages" and action == "create" and not attribute:
        return topic_message_events(path[0][1], path[1][1])
    return generate(path, action, attribute)
