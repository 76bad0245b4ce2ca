#!/usr/bin/env python3
"""Writes tests/data/history_2d.csv: two HK trading days (Friday 2026-12-04 and Monday
2026-12-07) of one-minute bars for HK.00700 and HK.09988, in the columns of the Python
SDK's request_history_kline DataFrame. The path is a known formula (no randomness, not
copied from any market): a slow sine wave plus a small zig-zag, snapped to the HK price
ticks, so tests can compute where it goes.

    python3 tests/data/gen_history.py > tests/data/history_2d.csv
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


def main():
    out = sys.stdout
    out.write("code,name,time_key,open,close,high,low,pe_ratio,turnover_rate,volume,turnover,change_rate,last_close\n")
    for code, name, base, amp, tick in CODES:
        prev = snap(base, tick)
        n = 0
        for day in DAYS:
            for m in MINUTES:
                close = snap(base + amp * math.sin(n / 40.0) + (tick * 2 if n % 2 else -tick * 2), tick)
                open_ = prev
                high = snap(max(open_, close) + tick * (1 + n % 3), tick)
                low = snap(min(open_, close) - tick * (1 + (n + 1) % 3), tick)
                volume = 100 * (20 + (n * 37) % 50)
                turnover = round(volume * (open_ + close + high + low) / 4.0, 2)
                change = round((close - prev) / prev * 100.0, 4)
                out.write(
                    f"{code},{name},{day} {m // 60:02d}:{m % 60:02d}:00,{open_},{close},{high},{low},"
                    f"0.0,0.0,{volume},{turnover},{change},{prev}\n"
                )
                prev = close
                n += 1


if __name__ == "__main__":
    main()
