#!/usr/bin/env python3
"""Independent reference implementation of /work/shared/refund-rules.md (v2).

Standard library only. Written from the contract text alone (not from the engine).
v2 ("Scope: who is refunded, who is credited"): `suspensions[i].where`, `goodwill.where`,
`goodwill.scope` ("refunded" | "active"), lengths in code points, an incident file over 1 MiB is
unusable, and the subscriptions header is checked against every column a `where` names.
Usage: python3 reference.py [compute] --incident F --subscriptions F [--format jsonl|csv] [--out F] [--rejects F]

Choices where the contract is silent are marked CHOICE.
"""
import csv
import io
import json
import re
import sys
import zoneinfo
from datetime import datetime, timedelta, timezone
from fractions import Fraction
from functools import lru_cache

# Intl.supportedValuesOf('currency') as listed by Node 20 / ICU 78 (the contract names that list).
CURRENCIES = frozenset("""AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN
BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD
GNF GTQ GYD HKD HNL HRK HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR
LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR
PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY
TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XCG XDR XOF XPF XSU YER ZAR ZMW ZWG ZWL""".split())

COLUMNS = ["subscription_id", "subscriber_id", "service_code", "monthly_fee", "currency",
           "active_from", "active_to", "time_zone", "billing_day"]
FIELDS = ["subscriptionId", "subscriberId", "serviceCode", "periodStart", "periodEnd",
          "unit", "units", "basis", "amount", "currency"]

# CHOICE: 'Factory' and 'localtime' are files in the zoneinfo directory but not usable zones.
_ZONES = {n.lower(): n for n in zoneinfo.available_timezones() if n not in ("Factory", "localtime")}


class Unusable(Exception):
    pass


MAX_INCIDENT_BYTES = 1 << 20  # "an incident file over 1 MiB is unusable"; CHOICE: bytes of the file as stored (BOM included)


def validate_where(v, path):
    """A `where` object -> {column: frozenset(values)}. Raises Unusable naming the path.
    Python str lengths are code points, as the contract counts them (CHOICE: a lone surrogate written as
    a JSON escape counts as one code point). CHOICE: a key repeated in the JSON text is read as JSON
    parsers do (the last one wins); a value listed twice is allowed and counts twice toward the 1,000."""
    if not isinstance(v, dict):  # null, arrays, strings, numbers, booleans: not an object
        raise Unusable(f"{path}: must be an object of column -> non-empty array of strings")
    if not v:
        raise Unusable(f"{path}: must name at least one column")
    if len(v) > 16:
        raise Unusable(f"{path}: at most 16 keys")
    out = {}
    for k, vals in v.items():
        kp = f"{path}.{k}"
        if not 1 <= len(k) <= 64:
            raise Unusable(f"{kp}: a column name of 1-64 characters")
        if k in COLUMNS:  # CHOICE: compared exactly (case-sensitive), as header names are
            raise Unusable(f"{kp}: cannot filter on contract column {k}")
        if not isinstance(vals, list) or not vals:
            raise Unusable(f"{kp}: must be a non-empty array of strings")
        if len(vals) > 1000:
            raise Unusable(f"{kp}: at most 1000 values")
        for j, x in enumerate(vals):
            if not isinstance(x, str) or len(x) > 128:
                raise Unusable(f"{kp}[{j}]: must be a string of at most 128 characters")
        out[k] = frozenset(vals)
    return out


def matches(cells, where):
    """cells: {column: cell text} of a row; where: validated filter or None (matches every row)."""
    if where is None:
        return True
    return all(cells[k] in vals for k, vals in where.items())


# ---------------------------------------------------------------- calendar arithmetic (proleptic Gregorian)
def days_from_civil(y, m, d):
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(z):
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    return (y + (m <= 2), m, d)


def is_leap(y):
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


def dim(y, m):
    return [31, 29 if is_leap(y) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]


def fmt_date(dn):
    y, m, d = civil_from_days(dn)
    return f"{y:04d}-{m:02d}-{d:02d}"


# ---------------------------------------------------------------- parsing of dates / instants
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_INSTANT = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(Z|([+-])([0-9]{2}):([0-9]{2}))")


def parse_date(s):
    """-> day number or None"""
    m = _DATE.fullmatch(s)
    if not m:
        return None
    y, mo, d = int(m[1]), int(m[2]), int(m[3])
    if not (1 <= mo <= 12 and 1 <= d <= dim(y, mo)):
        return None
    return days_from_civil(y, mo, d)


def parse_instant(s):
    """-> epoch seconds or None"""
    m = _INSTANT.fullmatch(s)
    if not m:
        return None
    y, mo, d, hh, mi, ss = (int(m[i]) for i in range(1, 7))
    if not (1 <= mo <= 12 and 1 <= d <= dim(y, mo) and hh <= 23 and mi <= 59 and ss <= 59):
        return None
    off = 0
    if m[7] != "Z":
        oh, om = int(m[9]), int(m[10])
        if oh > 23 or om > 59:  # CHOICE: offsets up to +-23:59 (as ECMAScript); -00:00 accepted
            return None
        off = (oh * 3600 + om * 60) * (1 if m[8] == "+" else -1)
    return days_from_civil(y, mo, d) * 86400 + hh * 3600 + mi * 60 + ss - off


# ---------------------------------------------------------------- time zones
def lookup_zone(name):
    if not isinstance(name, str):
        return None
    return _ZONES.get(name.lower())


@lru_cache(maxsize=None)
def _zi(name):
    return zoneinfo.ZoneInfo(name)


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_TMIN = days_from_civil(1, 1, 3) * 86400
_TMAX = days_from_civil(9999, 12, 29) * 86400


@lru_cache(maxsize=1 << 20)
def offset(zone, t):
    t = min(max(t, _TMIN), _TMAX)
    return int((_EPOCH + timedelta(seconds=t)).astimezone(_zi(zone)).utcoffset().total_seconds())


def local_date(zone, t):
    return (t + offset(zone, t)) // 86400


@lru_cache(maxsize=1 << 18)
def midnight(zone, dn):
    """First instant of local date dn in zone (if the date is skipped: when the clock resumes)."""
    L = dn * 86400
    offs = {offset(zone, L + k * 1800) for k in range(-100, 101)}
    valid = [L - o for o in offs if offset(zone, L - o) == o]
    if valid:
        return min(valid)
    lo, hi = L - 60 * 3600, L + 60 * 3600  # first t with local(t) >= L
    while lo < hi:
        mid = (lo + hi) // 2
        if mid + offset(zone, mid) >= L:
            hi = mid
        else:
            lo = mid + 1
    return lo


# ---------------------------------------------------------------- billing periods
def period_start(y, m, bday):
    return days_from_civil(y, m, min(bday, dim(y, m)))


def period_of(dn, bday):
    y, m, _ = civil_from_days(dn)
    st = period_start(y, m, bday)
    ny, nm = (y + 1, 1) if m == 12 else (y, m + 1)
    py, pm = (y - 1, 12) if m == 1 else (y, m - 1)
    if dn >= st:
        return (st, period_start(ny, nm, bday))
    return (period_start(py, pm, bday), st)


# ---------------------------------------------------------------- rounding
def round_frac(n, d, mode):
    q, r = divmod(n, d)
    if r == 0 or mode == "floor":
        return q
    if mode == "ceil":
        return q + 1
    if mode == "half-up":
        return q + 1 if 2 * r >= d else q
    if mode == "half-even":
        if 2 * r > d:
            return q + 1
        if 2 * r < d:
            return q
        return q if q % 2 == 0 else q + 1
    raise ValueError(mode)


# ---------------------------------------------------------------- incident
def _is_int(v):
    return (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer())


def _reject_constant(c):
    raise ValueError(f"invalid JSON constant {c}")


def load_incident(path):
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise Unusable(f"--incident: cannot read: {e}")
    if len(raw) > MAX_INCIDENT_BYTES:
        raise Unusable(f"incident: file over 1 MiB ({len(raw)} bytes)")
    try:
        text = raw.decode("utf-8")
        if text.startswith("\ufeff"):
            text = text[1:]  # CHOICE: tolerate a BOM
        inc = json.loads(text, parse_constant=_reject_constant)
    except Exception as e:
        raise Unusable(f"incident: not JSON: {e}")
    if not isinstance(inc, dict):
        raise Unusable("incident: must be an object")
    iid = inc.get("incidentId")
    if not isinstance(iid, str) or not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", iid):
        raise Unusable("incidentId: 1-64 characters of A-Za-z0-9._-")
    if "title" in inc:
        t = inc["title"]
        if not isinstance(t, str) or len(t) > 200:  # CHOICE: null title is not a string -> bad; length in code points (v2 says so)
            raise Unusable("title: text of at most 200 characters")
    zone = lookup_zone(inc.get("timeZone"))
    if zone is None:
        raise Unusable("timeZone: not a time zone of the tz database")
    pol = inc.get("policy")
    if not isinstance(pol, dict):
        raise Unusable("policy: must be an object")
    rule = pol.get("rule")
    if rule not in ("calendar-day", "full-24h", "exact") or not isinstance(rule, str):
        raise Unusable("policy.rule: calendar-day | full-24h | exact")
    db = pol.get("dayBasis")
    if isinstance(db, str):
        if db != "actual":
            raise Unusable('policy.dayBasis: "actual" or 30')
        basis = "actual"
    elif _is_int(db) and db == 30:
        basis = 30
    else:
        raise Unusable('policy.dayBasis: "actual" or 30')
    rnd = pol.get("rounding")
    if not isinstance(rnd, str) or rnd not in ("floor", "ceil", "half-up", "half-even"):
        raise Unusable("policy.rounding: floor | ceil | half-up | half-even")
    sus = inc.get("suspensions")
    if not isinstance(sus, list) or not sus:
        raise Unusable("suspensions: at least one window")
    windows = []  # (serviceCode, start, end, where or None)
    where_keys = []  # (path, column) for the header check
    for i, w in enumerate(sus):
        if not isinstance(w, dict):
            raise Unusable(f"suspensions[{i}]: must be an object")
        sc = w.get("serviceCode")
        if not isinstance(sc, str) or sc == "":  # CHOICE: non-empty string
            raise Unusable(f"suspensions[{i}].serviceCode: non-empty text")
        s = parse_instant(w.get("start")) if isinstance(w.get("start"), str) else None
        if s is None:
            raise Unusable(f"suspensions[{i}].start: YYYY-MM-DDThh:mm:ss with Z or +-hh:mm")
        e = parse_instant(w.get("end")) if isinstance(w.get("end"), str) else None
        if e is None:
            raise Unusable(f"suspensions[{i}].end: YYYY-MM-DDThh:mm:ss with Z or +-hh:mm")
        if not e > s:
            raise Unusable(f"suspensions[{i}].end: must be later than start")
        wh = None
        if "where" in w:  # a present key is validated whatever its value (the contract: `null` is invalid)
            wh = validate_where(w["where"], f"suspensions[{i}].where")
            where_keys += [(f"suspensions[{i}].where.{k}", k) for k in wh]
        windows.append((sc, s, e, wh))
    goodwill = None
    if "goodwill" in inc:
        g = inc["goodwill"]
        if not isinstance(g, dict):  # CHOICE: null goodwill is bad
            raise Unusable("goodwill: must be an object")
        a = g.get("amount")
        if not _is_int(a) or a <= 0:
            raise Unusable("goodwill.amount: a positive integer")
        c = g.get("currency")
        if not isinstance(c, str) or c not in CURRENCIES:
            raise Unusable("goodwill.currency: ISO 4217 code")
        scope = "refunded"
        if "scope" in g:  # CHOICE: a present `"scope": null` is "any other value" -> bad
            scope = g["scope"]
            if not isinstance(scope, str) or scope not in ("refunded", "active"):
                raise Unusable('goodwill.scope: "refunded" | "active"')
        gwhere = None
        if "where" in g:
            gwhere = validate_where(g["where"], "goodwill.where")
            where_keys += [(f"goodwill.where.{k}", k) for k in gwhere]
        goodwill = (int(a), c, scope, gwhere)
    by_service = {}
    for sc, s, e, wh in windows:
        by_service.setdefault(sc, []).append((s, e, wh))
    # the incident span for goodwill scope "active": hull of all windows, whatever their service or where
    hull = (min(w[1] for w in windows), max(w[2] for w in windows))
    return {"zone": zone, "rule": rule, "basis": basis, "rounding": rnd, "windows": by_service, "goodwill": goodwill,
            "where_keys": where_keys, "hull": hull}


def merge(ivs):
    out = []
    for s, e in sorted(ivs):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [tuple(x) for x in out]


# ---------------------------------------------------------------- CSV (RFC 4180)
def parse_csv(text):
    """Yield (start_line, fields or None if malformed). Blank lines are skipped but counted."""
    i, n, line = 0, len(text), 1
    while i < n:
        start = line
        if text.startswith("\r\n", i):
            i += 2; line += 1; continue
        if text[i] == "\n":
            i += 1; line += 1; continue
        fields, bad = [], False
        while True:
            if i < n and text[i] == '"':
                i += 1
                buf = []
                closed = False
                while i < n:
                    c = text[i]
                    if c == '"':
                        if i + 1 < n and text[i + 1] == '"':
                            buf.append('"'); i += 2; continue
                        i += 1; closed = True; break
                    if c == "\n":
                        line += 1
                    buf.append(c); i += 1
                if not closed:
                    bad = True
                fields.append("".join(buf))
                if i < n and not (text[i] == "," or text[i] == "\n" or text.startswith("\r\n", i)):
                    bad = True  # text after closing quote: skip to end of physical line
                    while i < n and text[i] != "\n":
                        i += 1
            else:
                j = i
                while j < n and text[j] not in ",\n" and not text.startswith("\r\n", j):
                    j += 1
                val = text[i:j]
                if '"' in val:
                    bad = True  # CHOICE: a quote inside an unquoted field is malformed
                fields.append(val)
                i = j
            if i < n and text[i] == ",":
                i += 1; continue
            if text.startswith("\r\n", i):
                i += 2; line += 1
            elif i < n and text[i] == "\n":
                i += 1; line += 1
            break
        yield start, (None if bad else fields)


# ---------------------------------------------------------------- rows
_FEE = re.compile(r"0|[1-9][0-9]*")
_BDAY = re.compile(r"[1-9]|[12][0-9]|3[01]")


def parse_when(v, zone):
    dn = parse_date(v)
    if dn is not None:
        return midnight(zone, dn) if zone else None
    return parse_instant(v)


def validate_row(r, inc_zone):
    """-> (row dict, None) or (None, (field, reason))"""
    for k in ("subscription_id", "subscriber_id", "service_code"):
        v = r[k]
        if v == "" or len(v) > 128:  # CHOICE: length in code points
            return None, (k, "must be 1-128 characters")
    if not _FEE.fullmatch(r["monthly_fee"]):
        return None, ("monthly_fee", "must be a non-negative integer without sign or leading zeros")
    if r["currency"] not in CURRENCIES:
        return None, ("currency", "must be an ISO 4217 code")
    tz = r["time_zone"]
    zone = inc_zone if tz == "" else lookup_zone(tz)
    af_ok = parse_date(r["active_from"]) is not None or parse_instant(r["active_from"]) is not None
    if not af_ok:
        return None, ("active_from", "must be a date or an instant")
    at = r["active_to"]
    if at != "" and parse_date(at) is None and parse_instant(at) is None:
        return None, ("active_to", "must be empty, a date or an instant")
    if zone is None:
        return None, ("time_zone", "not a time zone of the tz database")
    bd = r["billing_day"]
    if bd != "" and not _BDAY.fullmatch(bd):
        return None, ("billing_day", "must be 1-31 without leading zeros")
    af = parse_when(r["active_from"], zone)
    ato = parse_when(at, zone) if at != "" else None
    if ato is not None and not ato > af:
        return None, ("active_to", "must be later than active_from")
    return {"sid": r["subscription_id"], "subscriber": r["subscriber_id"], "service": r["service_code"],
            "fee": int(r["monthly_fee"]), "currency": r["currency"], "zone": zone,
            "af": af, "at": ato, "bday": int(bd) if bd else 1}, None


def read_subscriptions(path, inc_zone, where_keys=()):
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise Unusable(f"--subscriptions: cannot read: {e}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Unusable(f"subscriptions: not UTF-8: {e}")  # CHOICE
    if text.startswith("\ufeff"):
        text = text[1:]
    recs = list(parse_csv(text))
    if not recs or recs[0][1] is None:
        raise Unusable("subscriptions: header row required")
    header = recs[0][1]
    idx = {}
    for c in COLUMNS:
        if header.count(c) != 1:  # CHOICE: a repeated required column makes the header unusable
            raise Unusable(f"subscriptions: header must name column {c} once")
        idx[c] = header.index(c)
    # v2: every column a where names must be in the header, exactly once (checked after the nine columns;
    # CHOICE: when several things are wrong, whichever is found first is reported: all are exit 2;
    # CHOICE: a where key matches a header name exactly (case-sensitive, as written after unquoting), as the nine do)
    for wpath, col in where_keys:
        n = header.count(col)
        if n == 0:
            raise Unusable(f"{wpath}: column {col!r} is not in the subscriptions header")
        if n > 1:
            raise Unusable(f"{wpath}: column {col!r} appears {n} times in the subscriptions header")
        idx[col] = header.index(col)
    wcols = sorted({col for _, col in where_keys})
    rejects, good = [], []
    sized = []
    for line, fields in recs[1:]:
        if fields is None:
            rejects.append({"line": line, "subscriptionId": None, "field": None, "reason": "malformed quoting"})
        elif len(fields) != len(header):
            rejects.append({"line": line, "subscriptionId": None, "field": None,
                            "reason": f"has {len(fields)} fields, header has {len(header)}"})
        else:
            sized.append((line, {c: fields[idx[c]] for c in COLUMNS}, {c: fields[idx[c]] for c in wcols}))
    counts = {}
    for _, r, _ in sized:
        counts[r["subscription_id"]] = counts.get(r["subscription_id"], 0) + 1
    for line, r, cells in sized:
        sid = r["subscription_id"] or None
        if counts[r["subscription_id"]] > 1:
            rejects.append({"line": line, "subscriptionId": sid, "field": "subscription_id", "reason": "duplicate"})
            continue
        row, err = validate_row(r, inc_zone)
        if err:
            rejects.append({"line": line, "subscriptionId": sid, "field": err[0], "reason": err[1]})
        else:
            row["cells"] = cells  # where columns, as written after CSV unquoting
            good.append(row)
    rejects.sort(key=lambda x: x["line"])
    return good, rejects


# ---------------------------------------------------------------- computation
def compute_row(row, inc):
    # v2 step 1: only the windows of the row's service whose where the row matches are merged for it
    wins = merge([(s, e) for s, e, wh in inc["windows"].get(row["service"], ()) if matches(row["cells"], wh)])
    if not wins:
        return [], False
    af, at = row["af"], row["at"]
    E = []
    for s, e in wins:
        s2, e2 = max(s, af), e if at is None else min(e, at)
        if s2 < e2:
            E.append((s2, e2))
    if not E:
        return [], False
    z, bday, rule = row["zone"], row["bday"], inc["rule"]
    units = {}
    if rule == "calendar-day":
        days = set()
        for s, e in E:
            for d in range(local_date(z, s) - 1, local_date(z, e - 1) + 2):
                if max(s, midnight(z, d)) < min(e, midnight(z, d + 1)):
                    days.add(d)
        for d in days:
            p = period_of(d, bday)
            units[p] = units.get(p, 0) + 1
    elif rule == "full-24h":
        for s, e in E:
            for j in range((e - s) // 86400):
                p = period_of(local_date(z, s + 86400 * j), bday)
                units[p] = units.get(p, 0) + 1
    else:
        for s, e in E:
            ps = set()
            for d in range(local_date(z, s) - 1, local_date(z, e - 1) + 2):
                ps.add(period_of(d, bday))
            for p in ps:
                a, b = max(s, midnight(z, p[0])), min(e, midnight(z, p[1]))
                if a < b:
                    units[p] = units.get(p, 0) + (b - a)
    lines = []
    for p in sorted(units):
        u = units[p]
        if rule == "exact":
            basis = midnight(z, p[1]) - midnight(z, p[0]) if inc["basis"] == "actual" else 2592000
        else:
            basis = p[1] - p[0] if inc["basis"] == "actual" else 30
        u = min(u, basis)
        if u <= 0:
            continue
        amount = round_frac(row["fee"] * u, basis, inc["rounding"])
        lines.append({"subscriptionId": row["sid"], "subscriberId": row["subscriber"], "serviceCode": row["service"],
                      "periodStart": fmt_date(p[0]), "periodEnd": fmt_date(p[1]),
                      "unit": "second" if rule == "exact" else "day",
                      "units": u, "basis": basis, "amount": amount, "currency": row["currency"]})
    return lines, True


def active_in(row, span):
    """Is the row active for a positive length inside [span[0], span[1])?"""
    a = max(row["af"], span[0])
    b = span[1] if row["at"] is None else min(row["at"], span[1])
    return a < b


def compute(inc, rows):
    """rows: valid rows only (a rejected row never qualifies anyone)."""
    lines, affected, seen = [], [], set()
    gw = inc["goodwill"]
    for row in rows:
        ls, hit = compute_row(row, inc)
        lines.extend(ls)
        if not gw or row["subscriber"] in seen:
            continue
        _, _, scope, gwhere = gw
        if not matches(row["cells"], gwhere):
            continue
        # "refunded": non-empty E (even if no line, e.g. full-24h under 24 h); "active": any service, hull
        if (hit if scope == "refunded" else active_in(row, inc["hull"])):
            seen.add(row["subscriber"])
            affected.append(row["subscriber"])
    if gw:
        amt, cur = gw[0], gw[1]
        for s in affected:
            lines.append({"subscriptionId": None, "subscriberId": s, "serviceCode": None, "periodStart": None,
                          "periodEnd": None, "unit": "goodwill", "units": 1, "basis": 1, "amount": amt,
                          "currency": cur})
    return lines


# ---------------------------------------------------------------- CLI
def render(lines, fmt):
    if fmt == "jsonl":
        return "".join(json.dumps({k: l[k] for k in FIELDS}, ensure_ascii=False, separators=(",", ":")) + "\n"
                       for l in lines)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(FIELDS)
    for l in lines:
        w.writerow(["" if l[k] is None else l[k] for k in FIELDS])
    return buf.getvalue()


def parse_args(argv):
    if argv and argv[0] == "compute":
        argv = argv[1:]
    opts = {}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a.startswith("--") and "=" in a:
            k, v = a[2:].split("=", 1)
        elif a.startswith("--") and i + 1 < len(argv):
            k, v = a[2:], argv[i + 1]
            i += 1
        else:
            raise Unusable(f"unexpected argument {a!r}")
        if k not in ("incident", "subscriptions", "format", "out", "rejects") or k in opts:
            raise Unusable(f"unknown or repeated option --{k}")
        opts[k] = v
        i += 1
    if "incident" not in opts or "subscriptions" not in opts:
        raise Unusable("--incident and --subscriptions are required")
    if opts.get("format", "jsonl") not in ("jsonl", "csv"):
        raise Unusable("--format: jsonl | csv")
    return opts


def main(argv, err=None):
    err = err or sys.stderr
    try:
        opts = parse_args(argv)
        inc = load_incident(opts["incident"])
        rows, rejects = read_subscriptions(opts["subscriptions"], inc["zone"], inc["where_keys"])
    except Unusable as e:
        print(f"hiwari-reference: {e}", file=err)
        return 2
    out = render(compute(inc, rows), opts.get("format", "jsonl"))
    if "out" in opts:
        with open(opts["out"], "w", encoding="utf-8", newline="") as f:
            f.write(out)
    else:
        sys.stdout.write(out)
    rej = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rejects)
    if "rejects" in opts:
        with open(opts["rejects"], "w", encoding="utf-8") as f:
            f.write(rej)
    else:
        err.write(rej)
    return 3 if rejects else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
