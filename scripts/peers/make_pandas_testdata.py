"""Writes pickles of pandas 2.3.3 objects (categoricals, time zones from pytz,
zoneinfo and dateutil, periods, intervals, sparse and nullable arrays, indexes,
Timestamps, offsets) with protocols 2, 4 and 5, and DataFrame.to_pickle:

  pip install --no-deps --target .cache/pd pandas==2.3.3 python-dateutil pytz tzdata
  PYTHONPATH=.cache/pd .cache/venv-peers/bin/python scripts/peers/make_pandas_testdata.py OUT

testdata/real/pandas keeps nine of them (pandas233_*.pkl)."""
import datetime
import decimal
import os
import pickle
import sys
import zoneinfo

import dateutil.tz
import numpy as np
import pandas as pd

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
objs = {
 "categorical": pd.Series(pd.Categorical(["a","b","a"], categories=["a","b","c"], ordered=True)),
 "datetime_tz": pd.Series(pd.date_range("2024-01-01", periods=3, tz="Europe/Paris")),
 "datetime_naive": pd.DataFrame({"t": pd.date_range("2024-01-01", periods=3, freq="h")}),
 "timedelta": pd.Series(pd.to_timedelta([1, 2, 3], unit="s")),
 "period": pd.Series(pd.period_range("2024-01", periods=3, freq="M")),
 "interval": pd.Series(pd.interval_range(0, 3)),
 "sparse": pd.Series(pd.arrays.SparseArray([0, 0, 1, 0])),
 "nullable": pd.DataFrame({"i": pd.array([1, None, 3], dtype="Int64"), "b": pd.array([True, None, False], dtype="boolean"), "f": pd.array([1.5, None, 2.0], dtype="Float64"), "s": pd.array(["x", None, "z"], dtype="string")}),
 "multiindex": pd.DataFrame({"v": [1, 2, 3, 4]}, index=pd.MultiIndex.from_product([["a", "b"], [1, 2]], names=["k", "n"])),
 "rangeindex": pd.Series([1.0, 2.0], index=pd.RangeIndex(2)),
 "timestamp_scalars": {"ts": pd.Timestamp("2024-01-01", tz="UTC"), "td": pd.Timedelta("1D"), "nat": pd.NaT, "per": pd.Period("2024-01", "M"), "off": pd.offsets.BDay(2), "iv": pd.Interval(0, 1)},
 "dateoffsets": pd.Series(pd.date_range("2024-01-01", periods=3, freq="B")),
 "object_mixed": pd.DataFrame({"o": [decimal.Decimal("1.1"), datetime.date(2024, 1, 1), None]}),
 "groupby_frame": pd.DataFrame({"a": [1, 1, 2], "b": [3, 4, 5]}).groupby("a").sum(),
 "styler_free_frame_attrs": pd.DataFrame({"x": [1]}).set_flags(allows_duplicate_labels=False),
}
for name, o in objs.items():
    for proto in (2, 4, 5):
        with open(f"{out}/{name}_p{proto}.pkl", "wb") as f:
            pickle.dump(o, f, protocol=proto)
    o_to = getattr(o, "to_pickle", None)
    if o_to: o_to(f"{out}/{name}_to_pickle.pkl.gz")

def mk():
  r = {}
  for k, f in [
   ("zoneinfo", lambda: pd.Series(pd.date_range("2024-01-01", periods=2, tz=zoneinfo.ZoneInfo("Europe/Paris")))),
   ("zoneinfo_py", lambda: datetime.datetime(2024, 1, 1, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))),
   ("dateutil_tz", lambda: pd.Series(pd.date_range("2024-01-01", periods=2, tz=dateutil.tz.gettz("Europe/Paris")))),
   ("dateutil_utc", lambda: pd.Timestamp("2024-01-01", tz=dateutil.tz.tzutc())),
   ("fixed_offset", lambda: pd.Timestamp("2024-01-01T00:00+05:30")),
   ("py_datetime", lambda: {"b": datetime.datetime.now(datetime.timezone.utc)}),
   ("np_datetime", lambda: {"d": np.datetime64("2024-01-01"), "t": np.timedelta64(3, "s")})]:
    try: r[k] = f()
    except Exception as e: print("skip", k, type(e).__name__)
  return r
objs = mk()
objs2 = {}
for name, o in list(objs.items()):
    for proto in (2, 5):
        with open(f"{out}/{name}_p{proto}.pkl", "wb") as f:
            pickle.dump(o, f, protocol=proto)
