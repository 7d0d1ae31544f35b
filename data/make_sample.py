"""Write the sample spreadsheets in data/sample/ (deterministic: same seed, same cells).

- ``catalogus.xlsx``: a product export of a Dutch clothing and home webshop, the catalog
  that ``backorder-ops load`` reads (RULES.md section 6).
- ``batch_week49.xlsx``: a "Product Backorder" batch against that catalog whose rows hit
  every status and reason of RULES.md section 4 at least once; the ``Opmerking`` column
  says what each row tests.

Run from the project root::

    python data/make_sample.py

Only the standard library and openpyxl are used. The workbooks carry fixed document
dates and zip timestamps, so a rerun rewrites byte-identical files.
"""

from __future__ import annotations

import datetime as dt
import io
import random
import zipfile
from dataclasses import dataclass
from pathlib import Path

from openpyxl import Workbook
from openpyxl.writer.excel import ExcelWriter

SEED = 2026
FIXED_TIME = dt.datetime(2026, 12, 1, 9, 0, 0)
SAMPLE_DIR = Path(__file__).resolve().parent / "sample"
CATALOG_FILE = SAMPLE_DIR / "catalogus.xlsx"
BATCH_FILE = SAMPLE_DIR / "batch_week49.xlsx"

CATALOG_HEADER = ("EAN", "SKU", "Productnaam", "Parent EAN", "Voorraad", "Backorders toegestaan")
BATCH_HEADER = ("EAN", "Backorder toegestaan?", "Opmerking")

LETTER_SIZES = ("XS", "S", "M", "L", "XL", "XXL")
DRESS_SIZES = ("36", "38", "40", "42", "44", "46")
SHOE_SIZES = tuple(str(size) for size in range(36, 47))
BED_SIZES = ("140x200", "140x220", "200x200", "200x220", "240x220")
TOWEL_SIZES = ("30x50", "50x100", "70x140")
CUSHION_SIZES = ("40x40", "45x45", "50x50")
NO_SIZES: tuple[str, ...] = ()

# GS1 company prefixes: Dutch ones (87...) for most goods, one US UPC prefix for imports.
DUTCH_PREFIXES = ("8719327", "8720165", "8711253")
UPC_PREFIX = "088381"
EAN8_PREFIX = "87"
GTIN14_PREFIX = "18719327"  # indicator digit 1: a trade unit of a Dutch EAN-13


@dataclass(frozen=True)
class Family:
    """A product as the shop lists it: a standalone product, or a parent with variants."""

    name: str
    sizes: tuple[str, ...] = NO_SIZES
    colours: tuple[str, ...] = ()
    scheme: str = "ean13"  # ean13, upc12, ean8 or gtin14

    @property
    def has_variants(self) -> bool:
        return bool(self.colours)


FAMILIES = (
    Family("Trui Basic Merino", LETTER_SIZES, ("navy", "grijs", "zwart", "beige", "bordeaux")),
    Family("T-shirt Organic Katoen", LETTER_SIZES, ("wit", "zwart", "navy", "groen", "grijs")),
    Family("Hoodie Oversized", LETTER_SIZES, ("grijs", "zwart", "beige", "groen")),
    Family("Jeans Slim Fit", DRESS_SIZES, ("blauw", "zwart", "grijs")),
    Family("Chino Stretch", LETTER_SIZES, ("beige", "navy", "groen", "zwart")),
    Family("Jurk Linnen", DRESS_SIZES, ("zwart", "wit", "rood", "groen", "beige")),
    Family("Blouse Viscose", DRESS_SIZES, ("wit", "roze", "zwart")),
    Family("Polo Piqué", LETTER_SIZES, ("wit", "navy", "rood", "groen")),
    Family("Overhemd Oxford", LETTER_SIZES, ("wit", "blauw", "roze")),
    Family("Vest Grof Gebreid", LETTER_SIZES, ("ecru", "grijs", "groen")),
    Family("Regenjas Urban", LETTER_SIZES, ("zwart", "groen", "geel")),
    Family("Winterjas Parka", LETTER_SIZES, ("zwart", "groen", "navy")),
    Family("Sneaker Canvas", SHOE_SIZES, ("wit", "zwart", "rood")),
    Family("Enkellaars Leer", SHOE_SIZES, ("zwart", "bruin")),
    Family("Pyjama Flanel", LETTER_SIZES, ("rood", "grijs", "blauw")),
    Family("Legging Sport", LETTER_SIZES, ("zwart", "grijs")),
    Family("Rok Plissé", DRESS_SIZES, ("zwart", "groen", "beige")),
    Family("Blazer Wol", DRESS_SIZES, ("zwart", "grijs", "navy")),
    Family("Korte Broek Linnen", LETTER_SIZES, ("zand", "navy", "wit")),
    Family("Badjas Wafel", LETTER_SIZES, ("wit", "grijs", "beige")),
    Family("Sweater Ronde Hals", LETTER_SIZES, ("grijs", "navy", "groen", "rood")),
    Family("Pet Twill", NO_SIZES, ("zwart", "beige", "navy", "groen"), scheme="upc12"),
    Family("Dekbedovertrek Percal", BED_SIZES, ("wit", "grijs", "beige", "antraciet")),
    Family("Hoeslaken Jersey", BED_SIZES, ("wit", "grijs", "zand")),
    Family("Handdoek Badstof", TOWEL_SIZES, ("wit", "grijs", "groen", "zand")),
    Family("Kussenhoes Velvet", CUSHION_SIZES, ("groen", "oker", "roze", "grijs")),
    Family("Plaid Wafel", NO_SIZES, ("oker", "grijs", "beige", "groen")),
    Family("Geurkaars Vanille"),
    Family("Geurkaars Cederhout"),
    Family("Geurkaars Vijg"),
    Family("Sokken 3-pack", scheme="gtin14"),
    Family("Theedoeken 6-pack", scheme="gtin14"),
    Family("Veters Katoen", scheme="ean8"),
    Family("Kledingborstel", scheme="ean8"),
    Family("Schoenpoets Neutraal", scheme="ean8"),
    Family("Bidon RVS 750 ml", scheme="upc12"),
    Family("Thermosbeker 350 ml", scheme="upc12"),
    Family("Riem Leer Zwart"),
    Family("Sjaal Wol Grijs"),
    Family("Muts Ribgebreid Navy"),
    Family("Handschoenen Wol"),
    Family("Placemat Jute"),
    Family("Vaas Keramiek Klein"),
    Family("Vaas Keramiek Groot"),
    Family("Mok Stoneware"),
    Family("Ontbijtbord Stoneware"),
    Family("Onderzetters Kurk 4-pack"),
    Family("Deurmat Kokos"),
    Family("Kaarsenhouder Messing"),
    Family("Wolwasmiddel 500 ml"),
    Family("Kledinghangers Hout 5-pack"),
    Family("Opbergmand Zeegras"),
    Family("Schaal Terracotta"),
    Family("Waxinelichtjes 50 stuks"),
    Family("Spiegel Rond 60 cm"),
    Family("Fotolijst Eiken 13x18"),
    Family("Tafelkleed Linnen"),
    Family("Servetten Katoen 4-pack"),
    Family("Snijplank Eiken"),
    Family("Wasknijpers Bamboe 20 stuks"),
    Family("Badmat Katoen"),
    Family("Toilettas Canvas"),
    Family("Boodschappentas Jute"),
)

# Products the batch relies on get a fixed setting and stock pattern, so that the batch's
# outcome is known: name -> (backorder allowed, stock pattern or None for random stock).
# "out": every sellable unit at stock <= 0; "partly_out": some variants <= 0, some > 0;
# "in": stock > 0. All other parents and standalones get a random setting.
FIXED = {
    "Winterjas Parka": (True, "out"),
    "Regenjas Urban": (True, "partly_out"),
    "Enkellaars Leer": (False, "out"),
    "Blazer Wol": (False, "partly_out"),
    "Trui Basic Merino": (False, "partly_out"),
    "Hoodie Oversized": (True, None),
    "Vest Grof Gebreid": (False, None),
    "Geurkaars Vanille": (True, "out"),
    "Geurkaars Cederhout": (False, "out"),
    "Deurmat Kokos": (True, "in"),
    "Mok Stoneware": (False, "in"),
    "Sokken 3-pack": (False, None),
    "Bidon RVS 750 ml": (False, "out"),
    "Veters Katoen": (False, "out"),
}
SHARE_ON = 0.1  # with the FIXED ones, about 15% of all

# (low, high, weight): many products at 0 and 1-2, a few oversold, a few with plenty.
STOCK_BANDS = ((-3, -1, 4), (0, 0, 26), (1, 2, 20), (3, 10, 24), (11, 60, 18), (61, 250, 8))


@dataclass(frozen=True)
class Product:
    """One catalog row."""

    ean: str
    sku: str
    name: str
    parent_ean: str | None
    stock: int
    backorder_allowed: bool | None  # None on variants: they follow their parent
    backorder_cell: str | int | None  # the setting as the export writes it


@dataclass(frozen=True)
class BatchRow:
    """One batch row as written, with the outcome RULES.md section 4 gives it."""

    ean: str | int | None
    value: str | int | None
    comment: str
    outcome: str  # "applied", "unchanged", or the reason a "rejected" row gets


def gs1_check_digit(body: str) -> str:
    """Return the GS1 mod-10 check digit for ``body`` (weights 3, 1, 3, ... from the right).

    >>> gs1_check_digit("871234567890")
    '6'
    """
    total = sum(int(digit) * (3 if i % 2 == 0 else 1) for i, digit in enumerate(reversed(body)))
    return str(-total % 10)


def gtin14_key(ean: str) -> str:
    """Return the matching key of RULES.md section 3: the digits padded with zeros to 14."""
    return ean.zfill(14)


class EanIssuer:
    """Hand out unique, valid EANs per numbering scheme, item references in sequence."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._next_ref: dict[str, int] = {}

    def _next(self, prefix: str, body_length: int) -> str:
        if prefix not in self._next_ref:
            self._next_ref[prefix] = self._rng.randrange(10, 90) * 10
        ref = self._next_ref[prefix]
        self._next_ref[prefix] += 1
        body = prefix + str(ref).zfill(body_length - len(prefix))
        return body + gs1_check_digit(body)

    def issue(self, scheme: str, dutch_prefix: str) -> str:
        """Return the next EAN of ``scheme`` (``dutch_prefix`` is used by ean13)."""
        if scheme == "ean13":
            return self._next(dutch_prefix, 12)
        if scheme == "upc12":
            return self._next(UPC_PREFIX, 11)
        if scheme == "ean8":
            return self._next(EAN8_PREFIX, 7)
        if scheme == "gtin14":
            return self._next(GTIN14_PREFIX, 13)
        raise ValueError(f"unknown EAN scheme {scheme!r}")


def random_stock(rng: random.Random, pattern: str | None = None) -> int:
    """Return a stock level: random by STOCK_BANDS, or at most 0 ("out"), or above 0 ("in")."""
    if pattern == "out":
        return rng.choice((-3, -2, -1, 0, 0, 0, 0))
    if pattern == "in":
        return rng.randint(3, 40)
    low, high, _ = rng.choices(STOCK_BANDS, weights=[band[2] for band in STOCK_BANDS])[0]
    return rng.randint(low, high)


def variant_stocks(rng: random.Random, count: int, pattern: str | None) -> list[int]:
    """Return stock levels for ``count`` variants following ``pattern`` (see FIXED)."""
    if pattern != "partly_out":
        return [random_stock(rng, pattern) for _ in range(count)]
    stocks = [rng.choice((-1, 0, 0, 0, 1, 2, 5, 12)) for _ in range(count)]
    if all(stock > 0 for stock in stocks):
        stocks[0] = 0
    if all(stock <= 0 for stock in stocks):
        stocks[-1] = rng.randint(1, 8)
    return stocks


def backorder_cell(rng: random.Random, allowed: bool) -> str | int:
    """Write the setting the way mixed exports do: ``ja``/``nee`` text or the numbers 1/0."""
    if rng.random() < 0.5:
        return "ja" if allowed else "nee"
    return int(allowed)


def pick_sizes(rng: random.Random, sizes: tuple[str, ...]) -> tuple[str, ...]:
    """Return the run of sizes a product comes in (a window of the family's size range)."""
    if len(sizes) <= 3:
        return sizes
    length = rng.randint(4, min(len(sizes), 6))
    start = rng.randint(0, len(sizes) - length)
    return sizes[start : start + length]


def sku_code(name: str, number: int) -> str:
    """Return a parent SKU such as ``TBM-1001`` from the initials of the name."""
    initials = "".join(word[0] for word in name.replace("-", " ").split() if word[0].isalpha())
    return f"{initials.upper()[:4]}-{number}"


def build_family(
    rng: random.Random, issuer: EanIssuer, family: Family, number: int
) -> list[Product]:
    """Return the catalog rows of one family: the parent or standalone, then its variants."""
    allowed, pattern = FIXED.get(family.name, (rng.random() < SHARE_ON, None))
    prefix = rng.choice(DUTCH_PREFIXES)
    sku = sku_code(family.name, number)
    parent_ean = issuer.issue(family.scheme, prefix)
    cell = backorder_cell(rng, allowed)
    if not family.has_variants:
        stock = random_stock(rng, pattern)
        return [Product(parent_ean, sku, family.name, None, stock, allowed, cell)]

    colour_count = min(rng.choice((1, 2, 3, 3)), len(family.colours))
    colours = rng.sample(family.colours, k=colour_count)
    sizes = pick_sizes(rng, family.sizes) or ("",)
    combos = [(colour, size) for colour in colours for size in sizes]
    stocks = variant_stocks(rng, len(combos), pattern)
    # A parent with variants has no stock of its own: the rule ignores it, the export says 0.
    rows = [Product(parent_ean, sku, family.name, None, 0, allowed, cell)]
    for (colour, size), stock in zip(combos, stocks, strict=True):
        name = " - ".join(part for part in (family.name, size, colour.capitalize()) if part)
        variant_sku = "-".join(part for part in (sku, colour[:3].upper(), size) if part)
        ean = issuer.issue(family.scheme, prefix)
        rows.append(Product(ean, variant_sku, name, parent_ean, stock, None, None))
    return rows


def build_catalog(rng: random.Random, issuer: EanIssuer) -> list[Product]:
    """Return every catalog row, families in a shuffled (export) order."""
    families = list(FAMILIES)
    rng.shuffle(families)
    catalog = []
    for number, family in enumerate(families, start=1001):
        catalog.extend(build_family(rng, issuer, family, number))
    keys = [gtin14_key(product.ean) for product in catalog]
    assert len(keys) == len(set(keys)), "two catalog rows share a GTIN-14 key"
    return catalog


def build_batch(catalog: list[Product], issuer: EanIssuer) -> list[BatchRow | None]:
    """Return the batch rows (None: an entirely empty row), header excluded.

    Row numbers in comments are spreadsheet rows: the header is row 1.
    """
    by_name = {product.name: product for product in catalog}

    def ean(name: str) -> str:
        return by_name[name].ean

    variant = next(product for product in catalog if product.name.startswith("Jeans Slim Fit -"))
    wrong = ean("Jurk Linnen")
    bad_check = wrong[:-1] + str((int(wrong[-1]) + 1) % 10)
    unknown = issuer.issue("ean13", DUTCH_PREFIXES[0])
    assert gtin14_key(unknown) not in {gtin14_key(product.ean) for product in catalog}
    upc = ean("Bidon RVS 750 ml")
    assert len(upc) == 12 and upc[0] == "0" and upc[1] != "0"

    return [
        BatchRow(
            ean("Winterjas Parka"), "nee", "Uit; alle maten uitverkocht: jas verdwijnt", "applied"
        ),
        BatchRow(
            ean("Enkellaars Leer"), "ja", "Aan; alle maten uitverkocht: laars komt terug", "applied"
        ),
        BatchRow(ean("Regenjas Urban"), 0, "Uit (0 als getal); uitverkochte maten weg", "applied"),
        BatchRow(ean("Blazer Wol"), 1, "Aan (1 als getal); uitverkochte maten terug", "applied"),
        BatchRow(ean("Geurkaars Vanille"), "0", "Los product uit, geen voorraad: weg", "applied"),
        BatchRow(ean("Geurkaars Cederhout"), "Ja", "Hoofdletter Ja; komt terug", "applied"),
        BatchRow(
            ean("Deurmat Kokos"), " nee ", "Spaties om waarde; op voorraad: blijft", "applied"
        ),
        BatchRow(ean("Sokken 3-pack"), "nee", "GTIN-14; stond al uit", "unchanged"),
        BatchRow(ean("Hoodie Oversized"), "ja", "Stond al aan", "unchanged"),
        BatchRow(ean("Enkellaars Leer"), "ja", "Herhaling van rij 3, zelfde waarde", "unchanged"),
        None,
        BatchRow(int(ean("Trui Basic Merino")), "ja", "EAN als getal opgeslagen", "applied"),
        BatchRow(int(upc), "ja", "UPC als getal, voorloopnul kwijt", "applied"),
        BatchRow("'" + ean("Mok Stoneware"), "ja", "EAN met apostrof ervoor", "applied"),
        BatchRow("  " + ean("Veters Katoen") + " ", "1", "EAN-8 met spaties eromheen", "applied"),
        BatchRow(None, "ja", "EAN ontbreekt", "missing_ean"),
        BatchRow(bad_check, "ja", "Controlecijfer klopt niet", "invalid_ean"),
        BatchRow("8,71235E+12", "nee", "Wetenschappelijke notatie", "invalid_ean"),
        BatchRow(unknown, "ja", "Geldige EAN, niet in catalogus", "unknown_ean"),
        BatchRow(variant.ean, "ja", "Variant; hoort op hoofdproduct", "variant_not_allowed"),
        BatchRow(ean("Chino Stretch"), None, "Waarde ontbreekt", "missing_value"),
        BatchRow(ean("Polo Piqué"), "misschien", "Ongeldige waarde", "invalid_value"),
        BatchRow(ean("Vest Grof Gebreid"), "ja", "Dubbel, zie rij 25", "conflicting_duplicate"),
        BatchRow(ean("Vest Grof Gebreid"), "nee", "Dubbel, zie rij 24", "conflicting_duplicate"),
    ]


def new_workbook(title: str, header: tuple[str, ...], widths: tuple[int, ...]) -> Workbook:
    """Return a workbook whose first sheet is ``title`` with ``header`` on row 1."""
    workbook = Workbook()
    workbook.properties.creator = "backorder_ops data/make_sample.py"
    workbook.properties.created = FIXED_TIME
    workbook.properties.modified = FIXED_TIME
    sheet = workbook.active
    sheet.title = title
    sheet.append(header)
    for column, width in zip("ABCDEF", widths, strict=False):
        sheet.column_dimensions[column].width = width
    return workbook


def write_catalog(catalog: list[Product], path: Path) -> None:
    """Write the product export; EAN cells are text so that leading zeros survive."""
    workbook = new_workbook("Producten", CATALOG_HEADER, (16, 22, 44, 16, 10, 22))
    sheet = workbook.active
    for product in catalog:
        row = (
            product.ean,
            product.sku,
            product.name,
            product.parent_ean,
            product.stock,
            product.backorder_cell,
        )
        sheet.append(row)
        sheet.cell(sheet.max_row, 1).number_format = "@"
        sheet.cell(sheet.max_row, 4).number_format = "@"
    save_reproducibly(workbook, path)


def write_batch(rows: list[BatchRow | None], path: Path) -> None:
    """Write the batch sheet; an EAN given as int becomes a number cell, as Excel makes it."""
    workbook = new_workbook("Product Backorder", BATCH_HEADER, (18, 22, 48))
    sheet = workbook.active
    for row_number, row in enumerate(rows, start=2):
        if row is None:
            continue  # an entirely empty row: no cells at all
        sheet.cell(row_number, 1, row.ean).number_format = "0" if isinstance(row.ean, int) else "@"
        sheet.cell(row_number, 2, row.value)
        sheet.cell(row_number, 3, row.comment)
    save_reproducibly(workbook, path)


def save_reproducibly(workbook: Workbook, path: Path) -> None:
    """Save ``workbook`` with its own document dates and fixed zip timestamps.

    ``Workbook.save`` stamps the current time as the modified date, and zip entries carry
    the time of writing; both would make every rerun a different file.
    """
    buffer = io.BytesIO()
    ExcelWriter(workbook, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED)).save()
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(buffer) as source, zipfile.ZipFile(path, "w") as target:
        for entry in source.infolist():
            fixed = zipfile.ZipInfo(entry.filename, date_time=FIXED_TIME.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(fixed, source.read(entry.filename))


def print_summary(catalog: list[Product], rows: list[BatchRow | None]) -> None:
    """Print what was written and the outcome each batch row should get."""
    parents = [product for product in catalog if product.parent_ean is None]
    variants = len(catalog) - len(parents)
    owners = {product.parent_ean for product in catalog if product.parent_ean}
    lengths = sorted({len(product.ean) for product in catalog})
    switched_on = sum(1 for product in parents if product.backorder_allowed)
    standalone = len(parents) - len(owners)
    print(
        f"{CATALOG_FILE.name}: {len(catalog)} rows: {len(owners)} parents with {variants} "
        f"variants, {standalone} standalone; backorders on for {switched_on} of {len(parents)}; "
        f"EAN lengths {lengths}"
    )
    print(f"{BATCH_FILE.name}: {len(rows)} rows below the header, expected outcome per row:")
    for row_number, row in enumerate(rows, start=2):
        if row is None:
            print(f"  {row_number:>3}  (empty row, skipped)")
        else:
            status = row.outcome if row.outcome in ("applied", "unchanged") else "rejected"
            reason = "" if status == row.outcome else row.outcome
            print(f"  {row_number:>3}  {status:<9} {reason:<21} {row.comment}")


def main() -> None:
    """Build both sample workbooks and print a summary."""
    rng = random.Random(SEED)
    issuer = EanIssuer(rng)
    catalog = build_catalog(rng, issuer)
    rows = build_batch(catalog, issuer)
    write_catalog(catalog, CATALOG_FILE)
    write_batch(rows, BATCH_FILE)
    print_summary(catalog, rows)


if __name__ == "__main__":
    main()
