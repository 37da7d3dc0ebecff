"""Build the demo price sample from the shared real-price data set (development only).

Run from the repository root:  .venv/bin/python data/demo/make_sample.py [--shared PATH]

Reads ``sp500_daily_2013_2021.csv.gz`` and ``sp500_sectors.csv`` from the shared data folder
(``/work/shared/data`` or ``../shared/data`` beside the repository) and writes, next to this script:

* ``prices.csv.gz``  date,ticker,close,adj_close,volume for the selected tickers, values copied as is;
* ``securities.csv`` ticker,name,gics_sector,gics_sub_industry (the 2024 sub-industry; empty where the
  2024 list no longer has the ticker).

Selection (deterministic, see README.md): tickers with a row on every trading day from START to END
and a close of at least $5 throughout (no penny-stock prices), split across the GICS sectors in
proportion to the eligible tickers of each sector (at least MIN_PER_SECTOR each), and within a
sector the highest median daily dollar volume (close x volume). The application never needs this
script or the shared folder at run time: ``load_demo`` reads only the two files it writes.
"""

from __future__ import annotations

import argparse
import gzip
import io
import sys
from pathlib import Path

import pandas as pd

START, END = "2019-01-02", "2021-04-21"
TOTAL = 150
MIN_PER_SECTOR = 5
MIN_CLOSE = 5.0  # Rule 3a51-1: the Funds may not buy stocks priced under $5.

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
CANDIDATES = (Path("/work/shared/data"), REPO.parent / "shared" / "data")


def shared_folder(explicit: str | None) -> Path:
    for folder in ([Path(explicit)] if explicit else list(CANDIDATES)):
        if (folder / "sp500_daily_2013_2021.csv.gz").exists():
            return folder
    sys.exit(f"shared data not found in {', '.join(map(str, CANDIDATES))}; pass --shared PATH")


def allocate(counts: pd.Series, total: int, minimum: int) -> pd.Series:
    """Seats per sector: the minimum, then the rest by largest remainder in proportion to counts."""
    seats = pd.Series(minimum, index=counts.index).clip(upper=counts)
    rest = total - int(seats.sum())
    quota = counts / counts.sum() * (total - minimum * len(counts))
    extra = quota.astype(int).clip(upper=counts - seats)
    seats += extra
    rest -= int(extra.sum())
    remainders = (quota - quota.astype(int)).sort_values(ascending=False, kind="stable")
    for sector in remainders.index:
        if rest == 0:
            break
        if seats[sector] < counts[sector]:
            seats[sector] += 1
            rest -= 1
    return seats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", help="folder holding sp500_daily_2013_2021.csv.gz and sp500_sectors.csv")
    folder = shared_folder(parser.parse_args().shared)

    # Prices kept as text so the sample carries exactly the source's figures.
    prices = pd.read_csv(
        folder / "sp500_daily_2013_2021.csv.gz", dtype={"date": str, "ticker": str, "close": str, "adj_close": str, "volume": str}
    )
    prices = prices[(prices["date"] >= START) & (prices["date"] <= END)].copy()
    close = prices["close"].astype(float)
    prices["dollar_volume"] = close * prices["volume"].astype(float)
    prices["close_f"] = close

    sessions = prices["date"].nunique()
    stats = prices.groupby("ticker").agg(
        days=("date", "size"), min_close=("close_f", "min"), median_dollar_volume=("dollar_volume", "median")
    )
    eligible = stats[(stats["days"] == sessions) & (stats["min_close"] >= MIN_CLOSE)]

    sectors = pd.read_csv(folder / "sp500_sectors.csv", dtype=str)[["ticker", "name", "gics_sector", "gics_sub_industry_2024"]]
    sectors = sectors.rename(columns={"gics_sub_industry_2024": "gics_sub_industry"})
    eligible = eligible.join(sectors.set_index("ticker"), how="inner")
    seats = allocate(eligible.groupby("gics_sector").size(), TOTAL, MIN_PER_SECTOR)

    chosen = []
    for sector, n in seats.items():
        group = eligible[eligible["gics_sector"] == sector].sort_values(
            ["median_dollar_volume"], ascending=False, kind="stable"
        )
        chosen += group.index[: int(n)].tolist()
    chosen = sorted(chosen)

    sample = prices[prices["ticker"].isin(chosen)].sort_values(["date", "ticker"], kind="stable")
    sample = sample[["date", "ticker", "close", "adj_close", "volume"]]
    buffer = io.BytesIO()
    # mtime=0: the same input gives a byte-identical file.
    with gzip.GzipFile(filename="prices.csv", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as handle:
        handle.write(sample.to_csv(index=False, lineterminator="\n").encode())
    (HERE / "prices.csv.gz").write_bytes(buffer.getvalue())

    master = eligible.loc[chosen, ["name", "gics_sector", "gics_sub_industry"]].rename_axis("ticker").reset_index()
    master.to_csv(HERE / "securities.csv", index=False, lineterminator="\n")

    print(f"{len(chosen)} tickers, {sessions} sessions {START}..{END}, {len(sample):,} rows")
    print(seats.to_string())
    print(f"prices.csv.gz {len(buffer.getvalue()) / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
