"""`rtcli db|table|column|row …`: the TablesDB REST surface, one thin command each."""

# No `from __future__ import annotations` here: typer reads these signatures at start-up, and
# string annotations would cost a compile+eval each (~15 ms over all commands).

from enum import StrEnum
from typing import Annotated

import typer

from rtcli.cli import args, output
from rtcli.cli.common import (
    DbOpt, IdCommand, IdOpt, JsonOpt, PermissionOpt, QueryOpt, TableOpt, call, maybe, missing_id, pick_id, pick_new_id,
    want_json,
)

db_app = typer.Typer(help="Databases (TablesDB).", no_args_is_help=True)
table_app = typer.Typer(help="Tables in a database.", no_args_is_help=True)
column_app = typer.Typer(help="Columns of a table.", no_args_is_help=True)
row_app = typer.Typer(help="Rows of a table.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
    app.add_typer(table_app, name="table")
    app.add_typer(column_app, name="column")
    app.add_typer(row_app, name="row")


NameOpt = Annotated[str | None, typer.Option("--name", metavar="NAME", help="Display name (default: the ID).")]
NewIdArg = Annotated[str | None, typer.Argument(metavar="ID", help="The new ID, or unique() for a generated one.",
                                                show_default=False)]
IdArg = Annotated[str | None, typer.Argument(metavar="ID", help="The ID.", show_default=False)]
DisabledOpt = Annotated[bool, typer.Option("--disabled", help="Create it disabled.")]

# --- databases ------------------------------------------------------------------------------------


@db_app.command("create", cls=IdCommand)
def db_create(ctx: typer.Context,
              database_id: NewIdArg = None, id_: IdOpt = None,
              name: NameOpt = None, disabled: DisabledOpt = False, json_: JsonOpt = False) -> None:
    """Create a database: rtcli db create main --name Main"""
    database_id = pick_new_id(database_id, id_, "database", "rtcli db create main --name Main")
    result = call(ctx, lambda t: t.create(database_id, name or database_id, enabled=False if disabled else None))
    output.render(result, want_json(ctx, json_))


@db_app.command("list")
def db_list(ctx: typer.Context, query: QueryOpt = None, json_: JsonOpt = False) -> None:
    """List databases."""
    queries = [args.parse_query(q) for q in query or []]
    output.render(call(ctx, lambda t: t.list(queries)), want_json(ctx, json_), kind="databases")


@db_app.command("get", cls=IdCommand)
def db_get(ctx: typer.Context, database_id: IdArg = None, id_: IdOpt = None, json_: JsonOpt = False) -> None:
    """Show one database."""
    database_id = pick_id(database_id, id_, "database", required=True, usage="rtcli db get ID")
    output.render(call(ctx, lambda t: t.get(database_id)), want_json(ctx, json_))


@db_app.command("delete", cls=IdCommand)
def db_delete(ctx: typer.Context, database_id: IdArg = None, id_: IdOpt = None, json_: JsonOpt = False) -> None:
    """Delete a database with all its tables and rows."""
    database_id = pick_id(database_id, id_, "database", required=True, usage="rtcli db delete ID")
    call(ctx, lambda t: t.delete(database_id))
    output.done(f"deleted database {database_id}", want_json(ctx, json_))


# --- tables ---------------------------------------------------------------------------------------


@table_app.command("create", cls=IdCommand)
def table_create(
    ctx: typer.Context, db: DbOpt,
    table_id: NewIdArg = None, id_: IdOpt = None, name: NameOpt = None, permission: PermissionOpt = None,
    row_security: Annotated[bool | None, typer.Option("--row-security/--no-row-security",
                                                      help="Check each row's own permissions too.")] = None,
    disabled: DisabledOpt = False, json_: JsonOpt = False,
) -> None:
    """Create a table: rtcli table create --db main posts -p read:any"""
    table_id = pick_new_id(table_id, id_, "table", f"rtcli table create --db {db} messages")
    perms = [args.parse_permission(p) for p in permission] if permission else None
    result = call(ctx, lambda t: t.create_table(db, table_id, name or table_id, permissions=perms,
                                                row_security=row_security, enabled=False if disabled else None))
    output.render(result, want_json(ctx, json_))


@table_app.command("list")
def table_list(ctx: typer.Context, db: DbOpt, query: QueryOpt = None, json_: JsonOpt = False) -> None:
    """List the tables of a database."""
    queries = [args.parse_query(q) for q in query or []]
    output.render(call(ctx, lambda t: t.list_tables(db, queries)), want_json(ctx, json_), kind="tables")


@table_app.command("get", cls=IdCommand)
def table_get(ctx: typer.Context, db: DbOpt, table_id: IdArg = None, id_: IdOpt = None,
              json_: JsonOpt = False) -> None:
    """Show one table."""
    table_id = pick_id(table_id, id_, "table", required=True, usage=f"rtcli table get --db {db} ID")
    output.render(call(ctx, lambda t: t.get_table(db, table_id)), want_json(ctx, json_))


@table_app.command("delete", cls=IdCommand)
def table_delete(ctx: typer.Context, db: DbOpt, table_id: IdArg = None, id_: IdOpt = None,
                 json_: JsonOpt = False) -> None:
    """Delete a table with all its rows."""
    table_id = pick_id(table_id, id_, "table", required=True, usage=f"rtcli table delete --db {db} ID")
    call(ctx, lambda t: t.delete_table(db, table_id))
    output.done(f"deleted table {table_id}", want_json(ctx, json_))


# --- columns --------------------------------------------------------------------------------------


class ColumnType(StrEnum):
    string = "string"
    integer = "integer"
    float = "float"
    boolean = "boolean"
    datetime = "datetime"
    email = "email"
    enum = "enum"
    url = "url"
    ip = "ip"
    varchar = "varchar"
    text = "text"
    mediumtext = "mediumtext"
    longtext = "longtext"


@column_app.command("create")
def column_create(
    ctx: typer.Context, db: DbOpt, table: TableOpt,
    key: Annotated[str, typer.Option("--key", metavar="KEY", help="Column key.", show_default=False)],
    type_: Annotated[ColumnType, typer.Option("--type", help="Column type.", show_default=False)],
    size: Annotated[int | None, typer.Option("--size", metavar="N",
                                             help="Max length (string: default 255; varchar: needed, up to 16381).")] = None,
    required: Annotated[bool, typer.Option("--required", help="Rows must set it.")] = False,
    default: Annotated[str | None, typer.Option("--default", metavar="VALUE", help="Default value, parsed for the type.")] = None,
    array: Annotated[bool, typer.Option("--array", help="A list of values.")] = False,
    elements: Annotated[str | None, typer.Option("--elements", metavar="A,B,…", help="Enum values: a,b,c.")] = None,
    min_: Annotated[float | None, typer.Option("--min", metavar="N", help="Minimum (integer, float).")] = None,
    max_: Annotated[float | None, typer.Option("--max", metavar="N", help="Maximum (integer, float).")] = None,
    json_: JsonOpt = False,
) -> None:
    """Create a column."""
    kind = type_.value
    if kind == "enum" and not elements:
        raise typer.BadParameter("an enum column needs --elements a,b,c", param_hint="--elements")
    if kind == "string" and size is None:
        size = 255
    if kind == "varchar" and size is None:
        raise typer.BadParameter("a varchar column needs --size N (up to 16381)", param_hint="--size")
    if kind == "integer":  # the API wants integers for integer bounds
        min_ = int(min_) if min_ is not None else None
        max_ = int(max_) if max_ is not None else None
    value = args.parse_default(kind, default)
    result = call(ctx, lambda t: t.create_column(
        db, table, kind, key, required=required, default=value, array=array or None,
        size=size if kind in ("string", "varchar") else None, min=min_, max=max_, elements=args.parse_elements(elements)))
    output.render(result, want_json(ctx, json_))


@column_app.command("list")
def column_list(ctx: typer.Context, db: DbOpt, table: TableOpt, json_: JsonOpt = False) -> None:
    """List the columns of a table."""
    output.render(call(ctx, lambda t: t.list_columns(db, table)), want_json(ctx, json_), kind="columns")


# --- rows -----------------------------------------------------------------------------------------

RowIdArg = Annotated[str | None, typer.Argument(metavar="ROW_ID", help="Row ID.", show_default=False)]
DataOpt = Annotated[str | None, typer.Option("--data", metavar="JSON", help="Row data as a JSON object.")]
PAIRS_HELP = "key=value pairs (value parsed as JSON when it parses, else a string); override --data."
RowArgs = Annotated[list[str] | None, typer.Argument(
    metavar="ROW_ID [KEY=VALUE]...", help=f"The row ID, then {PAIRS_HELP}", show_default=False)]
NewRowArgs = Annotated[list[str] | None, typer.Argument(
    metavar="[ROW_ID] [KEY=VALUE]...", help=f"The row ID (default: a new unique ID), then {PAIRS_HELP}",
    show_default=False)]


def _row_usage(verb: str, db: str, table: str, rest: str = "") -> str:
    return f"rtcli row {verb} --db {db} --table {table} ROW_ID{rest}"


def _row_and_pairs(values: list[str] | None, option: str | None, *, needed_by: str | None = None
                   ) -> tuple[str, list[str]]:
    """``ROW_ID key=value…``: the first argument is the row ID unless it holds '=' (an ID never
    does). ``needed_by`` is the usage of a command that needs the ID; without it a new one is made."""
    values = list(values or [])
    argument = values.pop(0) if values and "=" not in values[0] else None
    if needed_by is not None and not (argument or option):
        missing_id("row", needed_by)
    return pick_id(argument, option, "row", required=False), values


@row_app.command("create")
def row_create(
    ctx: typer.Context, db: DbOpt, table: TableOpt,
    values: NewRowArgs = None, id_: IdOpt = None,
    data: DataOpt = None, permission: PermissionOpt = None, json_: JsonOpt = False,
) -> None:
    """Create a row: rtcli row create --db D --table T title=hello n=1 (or: … ROW_ID title=hello)

    An empty row is asked for with --data '{}'."""
    rid, pairs = _row_and_pairs(values, id_)
    if values and "=" not in values[0] and not pairs and data is None:
        # A lone word is read as the row ID, but it is as often a pair missing its =value
        # (`… messages text`): an empty row under that ID would hide the slip.
        raise typer.BadParameter(f"no data given: pass KEY=VALUE pairs or --data JSON (--data '{{}}' for an empty "
                                 f"row); {rid!r} is taken as the row ID, or is it a pair without =value?",
                                 param_hint="DATA")
    row = args.parse_data(data, pairs) or {}
    perms = maybe([args.parse_permission(p) for p in permission or []])
    output.render(call(ctx, lambda t: t.create_row(db, table, rid, row, perms)), want_json(ctx, json_))


@row_app.command("get", cls=IdCommand)
def row_get(ctx: typer.Context, db: DbOpt, table: TableOpt, row_id: RowIdArg = None, id_: IdOpt = None,
            json_: JsonOpt = False) -> None:
    """Show one row: rtcli row get --db D --table T ROW_ID"""
    rid = pick_id(row_id, id_, "row", required=True, usage=_row_usage("get", db, table))
    output.render(call(ctx, lambda t: t.get_row(db, table, rid)), want_json(ctx, json_))


@row_app.command("list")
def row_list(
    ctx: typer.Context, db: DbOpt, table: TableOpt, query: QueryOpt = None,
    limit: Annotated[int | None, typer.Option("--limit", metavar="N", help="At most this many rows.")] = None,
    json_: JsonOpt = False,
) -> None:
    """List rows, optionally filtered: rtcli row list --db D --table T -q 'n>=2' --limit 10"""
    queries = [args.parse_query(q) for q in query or []]
    if limit is not None:
        queries.append(args.limit_query(limit))
    output.render(call(ctx, lambda t: t.list_rows(db, table, queries)), want_json(ctx, json_), kind="rows")


def _write(ctx: typer.Context, method: str, db: str, table: str, values: list[str] | None, id_: str | None,
           data: str | None, permission: list[str] | None, as_json: bool) -> None:
    row_id, pairs = _row_and_pairs(values, id_, needed_by=_row_usage(method, db, table, " [KEY=VALUE]..."))
    row = args.parse_data(data, pairs)
    perms = maybe([args.parse_permission(p) for p in permission or []])
    if row is None and perms is None and method == "update":
        raise typer.BadParameter("nothing to update: give key=value pairs, --data or --permission",
                                 param_hint="DATA")
    result = call(ctx, lambda t: getattr(t, f"{method}_row")(db, table, row_id, row, perms))
    output.render(result, as_json)


@row_app.command("update")
def row_update(ctx: typer.Context, db: DbOpt, table: TableOpt, values: RowArgs = None, id_: IdOpt = None,
               data: DataOpt = None, permission: PermissionOpt = None, json_: JsonOpt = False) -> None:
    """Change some columns (and/or permissions) of a row: rtcli row update --db D --table T ROW_ID n=2"""
    _write(ctx, "update", db, table, values, id_, data, permission, want_json(ctx, json_))


@row_app.command("upsert")
def row_upsert(ctx: typer.Context, db: DbOpt, table: TableOpt, values: RowArgs = None, id_: IdOpt = None,
               data: DataOpt = None, permission: PermissionOpt = None, json_: JsonOpt = False) -> None:
    """Create the row, or update it if it exists: rtcli row upsert --db D --table T ROW_ID n=2"""
    _write(ctx, "upsert", db, table, values, id_, data, permission, want_json(ctx, json_))


@row_app.command("delete", cls=IdCommand)
def row_delete(ctx: typer.Context, db: DbOpt, table: TableOpt, row_id: RowIdArg = None, id_: IdOpt = None,
               json_: JsonOpt = False) -> None:
    """Delete a row: rtcli row delete --db D --table T ROW_ID"""
    rid = pick_id(row_id, id_, "row", required=True, usage=_row_usage("delete", db, table))
    call(ctx, lambda t: t.delete_row(db, table, rid))
    output.done(f"deleted row {rid}", want_json(ctx, json_))


ColumnOpt = Annotated[str, typer.Option("--column", metavar="KEY", help="Numeric column to change.", show_default=False)]
ByOpt = Annotated[float | None, typer.Option("--by", "--value", metavar="N", help="Amount (default 1).")]


def _number(x: float | None) -> float | int | None:
    # Send 2 rather than 2.0 so integer columns accept it.
    return int(x) if x is not None and float(x).is_integer() else x


@row_app.command("increment", cls=IdCommand)
def row_increment(ctx: typer.Context, db: DbOpt, table: TableOpt, column: ColumnOpt,
                  row_id: RowIdArg = None, id_: IdOpt = None, by: ByOpt = None,
                  max_: Annotated[float | None, typer.Option("--max", metavar="N", help="Do not go above this.")] = None,
                  json_: JsonOpt = False) -> None:
    """Add to a numeric column atomically: rtcli row increment --db D --table T ROW_ID --column n --by 2"""
    rid = pick_id(row_id, id_, "row", required=True, usage=_row_usage("increment", db, table, f" --column {column}"))
    result = call(ctx, lambda t: t.increment_row_column(db, table, rid, column, _number(by), _number(max_)))
    output.render(result, want_json(ctx, json_))


@row_app.command("decrement", cls=IdCommand)
def row_decrement(ctx: typer.Context, db: DbOpt, table: TableOpt, column: ColumnOpt,
                  row_id: RowIdArg = None, id_: IdOpt = None, by: ByOpt = None,
                  min_: Annotated[float | None, typer.Option("--min", metavar="N", help="Do not go below this.")] = None,
                  json_: JsonOpt = False) -> None:
    """Subtract from a numeric column atomically: rtcli row decrement --db D --table T ROW_ID --column n --by 2"""
    rid = pick_id(row_id, id_, "row", required=True, usage=_row_usage("decrement", db, table, f" --column {column}"))
    result = call(ctx, lambda t: t.decrement_row_column(db, table, rid, column, _number(by), _number(min_)))
    output.render(result, want_json(ctx, json_))
