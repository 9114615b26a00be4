"""`rtcli index …`: the indexes of a table (key, unique, fulltext), one thin command each."""

# No `from __future__ import annotations` here: typer reads these signatures at start-up, and
# string annotations would cost a compile+eval each (~15 ms over all commands).

from enum import StrEnum
from typing import Annotated

import typer

from rtcli.cli import output
from rtcli.cli.common import DbOpt, JsonOpt, TableOpt, call, want_json

index_app = typer.Typer(help="Indexes of a table: key, unique (no two rows alike), fulltext (for search).",
                        no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(index_app, name="index")


class IndexType(StrEnum):
    key = "key"
    unique = "unique"
    fulltext = "fulltext"


KeyArg = Annotated[str, typer.Argument(metavar="KEY", help="The index key.", show_default=False)]
INDEX_COLUMNS = ["key", "type", "columns", "orders", "status"]


def _split(values: list[str]) -> list[str]:
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


@index_app.command("create")
def index_create(
    ctx: typer.Context, db: DbOpt, table: TableOpt, key: KeyArg,
    type_: Annotated[IndexType, typer.Option("--type", help="Index type.")] = IndexType.key,
    column: Annotated[list[str] | None, typer.Option(
        "--column", "-c", metavar="KEY", help="A column, repeatable (or comma-separated), in index order.")] = None,
    desc: Annotated[bool, typer.Option("--desc", help="Order the index descending.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Create an index: rtcli index create --db main --table posts by_author -c author --type key"""
    columns = _split(column or [])
    if not columns:
        raise typer.BadParameter("give the indexed columns with --column KEY", param_hint="--column")
    orders = ["DESC" if desc else "ASC"] * len(columns) if type_ is not IndexType.fulltext else None
    result = call(ctx, lambda t: t.create_index(db, table, key, type_.value, columns, orders))
    output.render(result, want_json(ctx, json_))


@index_app.command("list")
def index_list(ctx: typer.Context, db: DbOpt, table: TableOpt, json_: JsonOpt = False) -> None:
    """List the indexes of a table."""
    output.render_list(call(ctx, lambda t: t.list_indexes(db, table)), want_json(ctx, json_), "indexes",
                       INDEX_COLUMNS)


@index_app.command("get")
def index_get(ctx: typer.Context, db: DbOpt, table: TableOpt, key: KeyArg, json_: JsonOpt = False) -> None:
    """Show one index."""
    output.render(call(ctx, lambda t: t.get_index(db, table, key)), want_json(ctx, json_))


@index_app.command("delete")
def index_delete(ctx: typer.Context, db: DbOpt, table: TableOpt, key: KeyArg, json_: JsonOpt = False) -> None:
    """Delete an index (a unique one stops binding the table's rows)."""
    call(ctx, lambda t: t.delete_index(db, table, key))
    output.done(f"deleted index {key}", want_json(ctx, json_))
