#!/usr/bin/env python3
"""Writes the shipped replay files, in the columns of the Python SDK's
request_history_kline DataFrame. Every path is a known formula (no randomness, not
copied from any market): a slow sine wave plus a small zig-zag, snapped to the price
ticks, so tests can compute where it goes.

    python3 tests/data/gen_history.py > tests/data/history_2d.csv
    python3 tests/data/gen_history.py us5m > tests/data/history_us_5m.csv
    python3 tests/data/gen_history.py daily > tests/data/history_daily.csv

- (default) history_2d.csv: two HK trading days (Friday 2026-12-04 and Monday
  2026-12-07) of one-minute bars for HK.00700 and HK.09988;
- us5m: two US trading days (Friday 2026-10-30, New York daylight time, and Monday
  2026-11-02, standard time) of five-minute bars for US.AAPL in the regular session
  09:30-16:00, time_key in New York time;
- daily: ten HK trading days (2026-11-23 to 2026-12-04) of daily bars for HK.00388,
  time_key at 00:00:00 as the SDK gives daily bars.
"""
import math
import sys

DAYS = ["2026-12-04", "2026-12-07"]
# HK continuous sessions: 09:30-12:00 and 13:00-16:00, bars labelled by their end.
MINUTES = [9 * 60 + 30 + i + 1 for i in range(150)] + [13 * 60 + i + 1 for i in range(180)]
CODES = [
    # code, name, base price, amplitude, tick
    ("HK.00700", "TENCENT", 400.0, 12.0, 0.2),
    ("HK.09988", "BABA-W", 85.0, 3.0, 0.05),
]


def snap(p, tick):
    return round(round(p / tick) * tick, 3)


HEADER = "code,name,time_key,open,close,high,low,pe_ratio,turnover_rate,volume,turnover,change_rate,last_close\n"


def write_bars(out, code, name, base, amp, tick, keys, wave=40.0):
    """One code's bars at the time_keys `keys`, on the formula of the module docs."""
    prev = snap(base, tick)
    for n, key in enumerate(keys):
        close = snap(base + amp * math.sin(n / wave) + (tick * 2 if n % 2 else -tick * 2), tick)
        open_ = prev
        high = snap(max(open_, close) + tick * (1 + n % 3), tick)
        low = snap(min(open_, close) - tick * (1 + (n + 1) % 3), tick)
        volume = 100 * (20 + (n * 37) % 50)
        turnover = round(volume * (open_ + close + high + low) / 4.0, 2)
        change = round((close - prev) / prev * 100.0, 4)
        out.write(
            f"{code},{name},{key},{open_},{close},{high},{low},"
            f"0.0,0.0,{volume},{turnover},{change},{prev}\n"
        )
        prev = close


def us5m(out):
    out.write(HEADER)
    # US regular session 09:30-16:00 New York time: 78 five-minute bars, labelled by their end.
    minutes = [9 * 60 + 30 + 5 * (i + 1) for i in range(78)]
    keys = [f"{day} {m // 60:02d}:{m % 60:02d}:00" for day in ["2026-10-30", "2026-11-02"] for m in minutes]
    write_bars(out, "US.AAPL", "APPLE", 250.0, 6.0, 0.01, keys, wave=12.0)


def daily(out):
    out.write(HEADER)
    days = ["2026-11-23", "2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27",
            "2026-11-30", "2026-12-01", "2026-12-02", "2026-12-03", "2026-12-04"]
    write_bars(out, "HK.00388", "HKEX", 300.0, 15.0, 0.2, [f"{d} 00:00:00" for d in days], wave=3.0)


def main():
    out = sys.stdout
    which = sys.argv[1] if len(sys.argv) > 1 else "hk2d"
    if which == "us5m":
        return us5m(out)
    if which == "daily":
        return daily(out)
    if which != "hk2d":
        sys.exit(f"unknown file {which!r}: hk2d (default), us5m or daily")
    out.write(HEADER)
    keys = [f"{day} {m // 60:02d}:{m % 60:02d}:00" for day in DAYS for m in MINUTES]
    for code, name, base, amp, tick in CODES:
        write_bars(out, code, name, base, amp, tick, keys)


if __name__ == "__main__":
    main()
