"""`romforge t9` commands: parse, call one library function, print."""

from __future__ import annotations

from pathlib import Path

import click

from romforge.cli.common import echo_json, json_option, shown


@click.group()
def t9() -> None:
    """Chinese T9 smart dial: name → pinyin, ranked digit queries over contacts."""


pack_option = click.option("--pack", type=click.Path(path_type=Path, exists=True), default=None,
                           help="Use this locale pack's T9 data (t9/names.toml, keypad.toml).")
data_option = click.option("--data", "data_file", type=click.Path(path_type=Path, exists=True, dir_okay=False),
                           default=None, help="Use a shipped T9 data file (product/etc/t9/<locale>.t9).")


@t9.command("pinyin")
@click.argument("names", nargs=-1, required=True)
@pack_option
@data_option
@json_option
def t9_pinyin(names: tuple[str, ...], pack: Path | None, data_file: Path | None, as_json: bool) -> None:
    """Print the pinyin readings of each NAME (primary first)."""
    from romforge.locales.pinyin import read_name
    from romforge.locales.t9 import load_data

    data = load_data(pack=pack, data_file=data_file)
    reads = [read_name(name, data) for name in names]
    if as_json:
        echo_json([{"name": r.name, "pinyin": r.pinyin, "readings": [" ".join(x) for x in r.readings]}
                    for r in reads])
        return
    for r in reads:
        others = [" ".join(x) for x in r.readings[1:]]
        click.echo(f"{r.name}\t{r.pinyin}" + (f"\t(also: {', '.join(others)})" if others else ""))


@t9.command("query")
@click.argument("digits")
@click.option("--contacts", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None,
              help="Contacts CSV with the columns name,number.")
@click.option("--index", "index_file", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None,
              help="A prebuilt index from `romforge t9 index`.")
@pack_option
@data_option
@json_option
def t9_query(digits: str, contacts: Path | None, index_file: Path | None, pack: Path | None,
             data_file: Path | None, as_json: bool) -> None:
    """Contacts matching DIGITS, best first (at most 20)."""
    from romforge.locales.t9 import load_data, load_index

    index = load_index(contacts=contacts, index_file=index_file,
                       data=load_data(pack=pack, data_file=data_file) if index_file is None else None)
    matches = index.search(digits)
    if as_json:
        echo_json([m.to_json() for m in matches])
        return
    for m in matches:
        start, end = m.span
        text = m.contact.number if m.kind == "number" else m.contact.name
        marked = f"{text[:start]}[{text[start:end]}]{text[end:]}"
        click.echo(f"{m.kind:<10} {marked if m.kind != 'number' else m.contact.name}\t"
                   f"{marked if m.kind == 'number' else m.contact.number}")


@t9.command("index")
@click.option("--contacts", type=click.Path(path_type=Path, exists=True, dir_okay=False), required=True,
              help="Contacts CSV with the columns name,number.")
@click.option("-o", "--out", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="Where to write the prebuilt index (JSON).")
@pack_option
@data_option
def t9_index(contacts: Path, out: Path, pack: Path | None, data_file: Path | None) -> None:
    """Build the T9 index of a contacts CSV once, for `t9 query --index`."""
    from romforge.locales.t9 import load_data, load_index, write_index

    index = load_index(contacts=contacts, index_file=None, data=load_data(pack=pack, data_file=data_file))
    write_index(index, out)
    click.echo(f"indexed {len(index.entries)} contacts: {shown(out)}")
