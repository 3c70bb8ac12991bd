#!/usr/bin/env python3
"""Deliberate edge-case probes (contract v1 and v2): run reference and project side by side, print differences.
   python3 probes.py [--cmd "node /work/main/bin/hiwari.js"] [--all] [name ...]"""
import argparse, json, os, shlex, shutil, sys, tempfile
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fuzz  # noqa: E402

H = "subscription_id,subscriber_id,service_code,monthly_fee,currency,active_from,active_to,time_zone,billing_day"


def inc(wins, rule="calendar-day", basis="actual", rounding="floor", tz="Asia/Tokyo", goodwill=None, **extra):
    d = {"incidentId": "probe", "timeZone": tz, "policy": {"rule": rule, "dayBasis": basis, "rounding": rounding},
         "suspensions": [{"serviceCode": s, "start": a, "end": b} for s, a, b in wins]}
    if goodwill is not None:
        d["goodwill"] = goodwill
    d.update(extra)
    return d


W1 = [("SPMAIL", "2011-12-20T23:30:00+09:00", "2011-12-22T14:00:00+09:00")]
ROW = "C1,S1,SPMAIL,3100,JPY,2011-01-01,,,1"
P = {}
# --- windows / time
for rule in ("calendar-day", "full-24h", "exact"):
    P[f"touch-midnight-{rule}"] = (inc([("SPMAIL", "2011-12-21T00:00:00+09:00", "2011-12-22T00:00:00+09:00"),
                                         ("SPMAIL", "2011-12-20T00:00:00+09:00", "2011-12-21T00:00:00+09:00")], rule),
                                    H + "\n" + ROW + "\n")
    P[f"apia-skip-{rule}"] = (inc([("SPMAIL", "2011-12-29T12:00:00-10:00", "2011-12-31T12:00:00+14:00")], rule, tz="Pacific/Apia"),
                              H + "\nC1,S1,SPMAIL,3100,JPY,2011-01-01,,,1\nC2,S2,SPMAIL,3100,JPY,2011-01-01,,,30\nC3,S3,SPMAIL,3100,JPY,2011-01-01,,,31\n")
    P[f"apia-month-{rule}"] = (inc([("SPMAIL", "2011-12-01T00:00:00-10:00", "2012-01-01T00:00:00+14:00")], rule, tz="Pacific/Apia"),
                               H + "\nC1,S1,SPMAIL,3000,JPY,2011-01-01,,,1\nC2,S2,SPMAIL,3000,JPY,2011-01-01,,,30\n")
    P[f"chatham-{rule}"] = (inc([("SPMAIL", "2021-09-25T23:15:00+12:45", "2021-09-27T00:00:00+13:45")], rule, tz="Pacific/Chatham"),
                            H + "\nC1,S1,SPMAIL,3000,JPY,2021-01-01,,,26\nC2,S2,SPMAIL,3000,JPY,2021-01-01,,NZ-CHAT,1\n")
    P[f"bday31-{rule}"] = (inc([("SPMAIL", "2021-02-25T00:00:00Z", "2021-05-02T00:00:00Z")], rule, tz="UTC"),
                           H + "\nC1,S1,SPMAIL,3000,JPY,2021-01-01,,,31\nC2,S2,SPMAIL,3000,JPY,2021-01-01,,,30\nC3,S3,SPMAIL,3000,JPY,2021-01-01,,,29\n")
    P[f"saopaulo-gap-{rule}"] = (inc([("SPMAIL", "2018-11-03T12:00:00-03:00", "2018-11-05T12:00:00-02:00")], rule, tz="America/Sao_Paulo"),
                                 H + "\nC1,S1,SPMAIL,3000,JPY,2018-11-04,,,4\nC2,S2,SPMAIL,3000,JPY,2018-01-01,,,1\n")
    P[f"ny-dst-{rule}"] = (inc([("SPMAIL", "2021-03-01T00:00:00-05:00", "2021-04-01T00:00:00-04:00")], rule, "30", tz="America/New_York") if False else
                           inc([("SPMAIL", "2021-03-01T00:00:00-05:00", "2021-04-01T00:00:00-04:00")], rule, tz="America/New_York"),
                           H + "\nC1,S1,SPMAIL,2674800,USD,2021-01-01,,,1\n")
P["ny-dst-exact-30"] = (inc([("SPMAIL", "2021-03-01T00:00:00-05:00", "2021-04-01T00:00:00-04:00")], "exact", 30, tz="America/New_York"),
                        H + "\nC1,S1,SPMAIL,2674800,USD,2021-01-01,,,1\n")
P["full24-short-goodwill"] = (inc(W1, "full-24h", goodwill={"amount": 200, "currency": "JPY"}),
                              H + "\nC1,S1,SPMAIL,3100,JPY,2011-12-21T00:00:00+09:00,2011-12-21T01:00:00+09:00,,1\n")
P["offset+14-and-minus0"] = (inc([("SPMAIL", "2011-12-21T14:00:00+14:00", "2011-12-22T00:00:00-00:00")]),
                             H + "\n" + ROW + "\nC2,S2,SPMAIL,1,JPY,2011-01-01T00:00:00-00:00,,,1\nC3,S3,SPMAIL,1,JPY,2011-01-01T00:00:00+14:00,,,1\n")
P["incident-offset+24"] = (inc([("SPMAIL", "2011-12-21T14:00:00+24:00", "2011-12-23T00:00:00Z")]), H + "\n" + ROW + "\n")
P["incident-offset+15"] = (inc([("SPMAIL", "2011-12-21T14:00:00+15:00", "2011-12-23T00:00:00Z")]), H + "\n" + ROW + "\n")
P["incident-offset-0060"] = (inc([("SPMAIL", "2011-12-21T14:00:00+09:60", "2011-12-23T00:00:00Z")]), H + "\n" + ROW + "\n")
P["row-offset+23:59"] = (inc(W1), H + "\nC1,S1,SPMAIL,1,JPY,2011-01-01T00:00:00+23:59,,,1\nC2,S1,SPMAIL,1,JPY,2011-01-01T00:00:00-23:59,,,1\n")
P["year0000"] = (inc(W1), H + "\nC1,S1,SPMAIL,3100,JPY,0000-01-01,,,1\nC2,S2,SPMAIL,3100,JPY,0000-01-01T00:00:00Z,,,1\nC3,S3,SPMAIL,1,JPY,2011-01-01,9999-12-31,,1\n")
P["incident-year0000"] = (inc([("SPMAIL", "0000-12-20T23:30:00+09:00", "0000-12-22T14:00:00+09:00")]), H + "\nC1,S1,SPMAIL,3100,JPY,0000-01-01,,,1\n")
P["feb29-24h"] = (inc(W1), H + "\nC1,S1,SPMAIL,1,JPY,2011-02-29,,,1\nC2,S2,SPMAIL,1,JPY,2012-02-29,,,1\nC3,S3,SPMAIL,1,JPY,2011-01-01T24:00:00Z,,,1\n"
                  "C4,S4,SPMAIL,1,JPY,2011-01-01T23:59:60Z,,,1\nC5,S5,SPMAIL,1,JPY,1900-02-29,,,1\nC6,S6,SPMAIL,1,JPY,2000-02-29,,,1\n")
P["incident-feb29"] = (inc([("SPMAIL", "2011-02-29T00:00:00Z", "2011-03-02T00:00:00Z")]), H + "\n" + ROW + "\n")
P["incident-24h"] = (inc([("SPMAIL", "2011-02-27T24:00:00Z", "2011-03-02T00:00:00Z")]), H + "\n" + ROW + "\n")
P["active-equal"] = (inc(W1), H + "\nC1,S1,SPMAIL,1,JPY,2011-12-01,2011-12-01,,1\nC2,S2,SPMAIL,1,JPY,2011-12-01T00:00:00+09:00,2011-12-01,Asia/Tokyo,1\n"
                     "C3,S3,SPMAIL,1,JPY,2011-12-01T00:00:00Z,2011-12-01T09:00:00+09:00,,1\nC4,S4,SPMAIL,1,JPY,2011-12-02,2011-12-01T23:00:00Z,,1\n")
# --- zones
P["zones-row"] = (inc(W1), H + "\nC1,S1,SPMAIL,1,JPY,2011-01-01,,asia/tokyo,1\nC2,S2,SPMAIL,1,JPY,2011-01-01,,Japan,1\nC3,S3,SPMAIL,1,JPY,2011-01-01,,JST,1\n"
                  "C4,S4,SPMAIL,1,JPY,2011-01-01,,PST,1\nC5,S5,SPMAIL,1,JPY,2011-01-01,,+09:00,1\nC6,S6,SPMAIL,1,JPY,2011-01-01,,ETC/utc,1\n"
                  "C7,S7,SPMAIL,1,JPY,2011-01-01,,EST,1\nC8,S8,SPMAIL,1,JPY,2011-01-01,,US/Pacific-New,1\nC9,S9,SPMAIL,1,JPY,2011-01-01,,Factory,1\n"
                  "C10,S10,SPMAIL,1,JPY,2011-01-01,,SystemV/AST4,1\nC11,S11,SPMAIL,1,JPY,2011-01-01,,Europe/Kyiv,1\nC12,S12,SPMAIL,1,JPY,2011-01-01,,America/Ciudad_Juarez,1\n"
                  "C13,S13,SPMAIL,1,JPY,2011-01-01,,IST,1\nC14,S14,SPMAIL,1,JPY,2011-01-01,,GMT+0,1\nC15,S15,SPMAIL,1,JPY,2011-01-01,,Etc/GMT+9,1\n"
                  "C16,S16,SPMAIL,1,JPY,2011-01-01,,localtime,1\nC17,S17,SPMAIL,1,JPY,2011-01-01,,UTC+9,1\n")
for z in ("asia/tokyo", "Japan", "JST", "PST", "+09:00", "Etc/GMT-9", "Factory", "US/Pacific-New", "utc", "EST"):
    P[f"zone-incident-{z}"] = (inc(W1, tz=z), H + "\n" + ROW + "\n")
# --- CSV
P["spaces"] = (inc(W1), H + "\n C1,S1,SPMAIL,1,JPY,2011-01-01,,,1\nC2 ,S2,SPMAIL,1,JPY,2011-01-01,,,1\nC3,S3, SPMAIL,1,JPY,2011-01-01,,,1\n"
               "C4,S4,SPMAIL,1,JPY, 2011-01-01,,,1\nC5,S5,SPMAIL,1,JPY,2011-01-01, ,,1\nC6,S6,SPMAIL,1,JPY,2011-01-01,,Asia/Tokyo ,1\n"
               "C7,S7,SPMAIL,1,JPY,2011-01-01,,, 1\nC8,S8,SPMAIL,1,JPY ,2011-01-01,,,1\nC9,S9,SPMAIL,1,JPY,2011-01-01,,,1 \n"
               "C10,S10,SPMAIL,1,JPY,2011-01-01,,,\t1\n")
P["quoted-crlf"] = (inc(W1), H + "\r\n" + 'C1,"S,1\r\nsecond line",SPMAIL,"3100",JPY,2011-01-01,,,1\r\n' + '"C2","S ""2""",SPMAIL,1,JPY,2011-01-01,,,"1"\r\n'
                    + "C3,S3,SPMAIL,007,JPY,2011-01-01,,,1\r\n" + 'C4,"S\n4\n",SPMAIL,1,JPY,2011-01-01,,,07\r\n')
P["bom-blank-extra"] = (inc(W1), "\ufeff" + H + ",note,\n\nC1,S1,SPMAIL,1,JPY,2011-01-01,,,1,a,\n\n\nC2,S2,SPMAIL,1,JPY,2011-01-01,,,1,b\r\n\r\nC3,S3,SPMAIL,x,JPY,2011-01-01,,,1,c,\n")
P["whitespace-line"] = (inc(W1), H + "\n \nC1,S1,SPMAIL,1,JPY,2011-01-01,,,1\n\t\n,,,,,,,,\n")
P["leading-blank-header"] = (inc(W1), "\n" + H + "\nC1,S1,SPMAIL,1,JPY,2011-01-01,,,1\nC2,S2,SPMAIL,1,JPY,2011-01-01,,,x\n")
P["header-missing-col"] = (inc(W1), H.replace(",billing_day", "") + "\nC1,S1,SPMAIL,1,JPY,2011-01-01,,\n")
P["header-case"] = (inc(W1), H.replace("currency", "Currency") + "\n" + ROW + "\n")
P["header-dup-col"] = (inc(W1), H + ",currency\n" + ROW + ",USD\n")
P["header-spaces"] = (inc(W1), H.replace(",currency", ", currency") + "\n" + ROW + "\n")
P["header-quoted"] = (inc(W1), '"subscription_id",' + H.split(",", 1)[1] + "\n" + ROW + "\n")
P["empty-file"] = (inc(W1), "")
P["header-only"] = (inc(W1), H + "\n")
P["dups-with-faults"] = (inc(W1), H + "\nD1,S1,SPMAIL,1,JPY,2011-01-01,,,1\nD1,S2,SPMAIL,007,JPY,2011-01-01,,,1\nD1,S3,SPMAIL,1,JPY,2011-01-01,,,1,extra\n"
                         "D2,S4,SPMAIL,1,JPY,2011-01-01,,,1,extra\nD2,S5,SPMAIL,1,JPY,2011-01-01,,,1\n,S6,SPMAIL,1,JPY,2011-01-01,,,1\n,S7,SPMAIL,1,JPY,2011-01-01,,,1\n"
                         "D3,S8,SPMAIL,1,JPY,2011-01-01,,,1\nd3,S9,SPMAIL,1,JPY,2011-01-01,,,1\n")
P["field-formats"] = (inc(W1), H + "\nF1,S,SPMAIL,+5,JPY,2011-01-01,,,1\nF2,S,SPMAIL,007,JPY,2011-01-01,,,1\nF3,S,SPMAIL,1e3,JPY,2011-01-01,,,1\n"
                      "F4,S,SPMAIL,0,JPY,2011-01-01,,,1\nF5,S,SPMAIL,1,jpy,2011-01-01,,,1\nF6,S,SPMAIL,1,XXX,2011-01-01,,,1\nF7,S,SPMAIL,1,ABC,2011-01-01,,,1\n"
                      "F8,S,SPMAIL,1,XDR,2011-01-01,,,1\nF9,S,SPMAIL,1,JPY,2011-01-01,,,07\nF10,S,SPMAIL,1,JPY,2011-01-01,,,0\nF11,S,SPMAIL,1,JPY,2011-01-01,,,32\n"
                      "F12,S,SPMAIL,١٢,JPY,2011-01-01,,,1\nF13,S,SPMAIL,1,JPY,2011-01-01,,,٣\nF14,S,SPMAIL,1,JPY,٢٠١١-01-01,,,1\nF15,S,SPMAIL,1,JPY,2011-01-01,,,1.0\n"
                      "F16,S,SPMAIL,-0,JPY,2011-01-01,,,1\nF17,S,SPMAIL,1,JPY,2011-01-01T00:00:00.000Z,,,1\nF18,S,SPMAIL,1,JPY,2011-01-01t00:00:00z,,,1\n"
                      "F19,S,SPMAIL,1,JPY,2011-01-01T00:00:00+0900,,,1\nF20,S,SPMAIL,1,JPY,+002011-01-01,,,1\nF21,S,SPMAIL,1,JPY,2011-01-01T00:00Z,,,1\n"
                      "F22,S,SPMAIL,1,VEF,2011-01-01,,,1\nF23,S,SPMAIL,1,XAU,2011-01-01,,,1\nF24,S,SPMAIL,1,EUR,2011-01-01,,,\n")
P["id-lengths"] = (inc(W1), H + "\n" + "I" * 128 + ",S1,SPMAIL,1,JPY,2011-01-01,,,1\n" + "J" * 129 + ",S2,SPMAIL,1,JPY,2011-01-01,,,1\n"
                   + "😀" * 100 + ",S3,SPMAIL,1,JPY,2011-01-01,,,1\nK1," + "é" * 128 + ",SPMAIL,1,JPY,2011-01-01,,,1\nK2,S5," + "S" * 129 + ",1,JPY,2011-01-01,,,1\n")
P["malformed-quotes"] = (inc(W1), H + '\nM1,S"1,SPMAIL,1,JPY,2011-01-01,,,1\nM2,"S2"x,SPMAIL,1,JPY,2011-01-01,,,1\nM3,S3,SPMAIL,1,JPY,2011-01-01,,,1\nM4,"S4,SPMAIL,1,JPY,2011-01-01,,,1\nM5,S5,SPMAIL,1,JPY,2011-01-01,,,1\n')
P["lone-cr"] = (inc(W1), H + "\rC1,S1,SPMAIL,1,JPY,2011-01-01,,,1\rC2,S2,SPMAIL,1,JPY,2011-01-01,,,1\r")
P["no-final-newline-short"] = (inc(W1), H + "\nC1,S1,SPMAIL,1,JPY,2011-01-01,,,1\nC2,S2,SPMAIL,1,JPY")
P["huge-fee"] = (inc(W1, "exact", rounding="half-even"), H + "\nC1,S1,SPMAIL,123456789012345678901234567890,JPY,2011-01-01,,,1\nC2,S2,SPMAIL,9007199254740993,JPY,2011-01-01,,,1\n")
P["half-rounding"] = (inc([("SPMAIL", "2011-12-01T00:00:00+09:00", "2011-12-16T00:00:00+09:00")], basis=30, rounding="half-even"),
                      H + "\nC1,S1,SPMAIL,1,JPY,2011-01-01,,,1\nC2,S2,SPMAIL,3,JPY,2011-01-01,,,1\nC3,S3,SPMAIL,5,JPY,2011-01-01,,,1\n")
P["half-up"] = (inc([("SPMAIL", "2011-12-01T00:00:00+09:00", "2011-12-16T00:00:00+09:00")], basis=30, rounding="half-up"),
                H + "\nC1,S1,SPMAIL,1,JPY,2011-01-01,,,1\nC2,S2,SPMAIL,3,JPY,2011-01-01,,,1\nC3,S3,SPMAIL,5,JPY,2011-01-01,,,1\n")
P["cap-basis-30"] = (inc([("SPMAIL", "2011-12-01T00:00:00+09:00", "2012-01-01T00:00:00+09:00")], basis=30),
                     H + "\nC1,S1,SPMAIL,3000,JPY,2011-01-01,,,1\n")
P["not-named-service"] = (inc(W1, goodwill={"amount": 5, "currency": "USD"}), H + "\nC1,S1,OTHER,1,JPY,2011-01-01,,,1\nC2,S1,SPMAIL,1,JPY,2011-01-01,,,1\nC3,S1,SPMAIL,1,JPY,2011-01-01,,,1\n")
# --- incident
P["dayBasis-string-30"] = (inc(W1, basis="30"), H + "\n" + ROW + "\n")
P["dayBasis-30.0"] = ('{"incidentId":"x","timeZone":"UTC","policy":{"rule":"exact","dayBasis":30.0,"rounding":"floor"},"suspensions":[{"serviceCode":"SPMAIL","start":"2011-12-20T23:30:00+09:00","end":"2011-12-22T14:00:00+09:00"}]}',
                      H + "\n" + ROW + "\n")
for a in (0, 1.5, 1.0, "200", -5, 2 ** 60, True, None):
    P[f"goodwill-{a}"] = (inc(W1, goodwill={"amount": a, "currency": "JPY"}), H + "\n" + ROW + "\n")
for c in ("jpy", "XXX", "ABC", "XDR"):
    P[f"goodwill-cur-{c}"] = (inc(W1, goodwill={"amount": 1, "currency": c}), H + "\n" + ROW + "\n")
P["goodwill-null"] = (inc(W1, goodwill=None) | {"goodwill": None}, H + "\n" + ROW + "\n")
P["title-200"] = (inc(W1, title="x" * 200), H + "\n" + ROW + "\n")
P["title-201"] = (inc(W1, title="x" * 201), H + "\n" + ROW + "\n")
P["title-emoji-150"] = (inc(W1, title="😀" * 150), H + "\n" + ROW + "\n")
P["title-null"] = (inc(W1, title=None), H + "\n" + ROW + "\n")
P["title-number"] = (inc(W1, title=5), H + "\n" + ROW + "\n")
P["incidentId-65"] = (inc(W1) | {"incidentId": "x" * 65}, H + "\n" + ROW + "\n")
P["incidentId-64"] = (inc(W1) | {"incidentId": "x" * 64}, H + "\n" + ROW + "\n")
P["incidentId-missing"] = ({k: v for k, v in inc(W1).items() if k != "incidentId"}, H + "\n" + ROW + "\n")
P["end-equals-start-offsets"] = (inc([("SPMAIL", "2011-12-21T00:00:00+09:00", "2011-12-20T15:00:00Z")]), H + "\n" + ROW + "\n")
P["window-date-only"] = (inc([("SPMAIL", "2011-12-21", "2011-12-22")]), H + "\n" + ROW + "\n")
P["window-fraction"] = (inc([("SPMAIL", "2011-12-21T00:00:00.5Z", "2011-12-22T00:00:00Z")]), H + "\n" + ROW + "\n")
P["window-serviceCode-empty"] = (inc([("", "2011-12-21T00:00:00Z", "2011-12-22T00:00:00Z")]), H + "\n" + ROW + "\n")
P["window-serviceCode-number"] = (inc([(5, "2011-12-21T00:00:00Z", "2011-12-22T00:00:00Z")]), H + "\n" + ROW + "\n")
P["incident-not-json"] = ("{", H + "\n" + ROW + "\n")
P["incident-NaN"] = ('{"incidentId":"x","timeZone":"UTC","policy":{"rule":"exact","dayBasis":NaN,"rounding":"floor"},"suspensions":[]}', H + "\n")
P["policy-extra-key"] = (inc(W1) | {"policy": {"rule": "exact", "dayBasis": "actual", "rounding": "floor", "x": 1}}, H + "\n" + ROW + "\n")
P["suspension-extra-key"] = ({**inc(W1), "suspensions": [{"serviceCode": "SPMAIL", "start": "2011-12-21T00:00:00Z", "end": "2011-12-22T00:00:00Z", "note": 1}]}, H + "\n" + ROW + "\n")

# --- more edges
P["title-emoji-200"] = (inc(W1, title="😀" * 200), H + "\n" + ROW + "\n")
P["title-emoji-201"] = (inc(W1, title="😀" * 201), H + "\n" + ROW + "\n")
P["title-combining-150x2"] = (inc(W1, title="e\u0301" * 150), H + "\n" + ROW + "\n")
P["goodwill-1e2"] = ('{"incidentId":"x","timeZone":"UTC","policy":{"rule":"exact","dayBasis":"actual","rounding":"floor"},"suspensions":[{"serviceCode":"SPMAIL","start":"2011-12-20T23:30:00+09:00","end":"2011-12-22T14:00:00+09:00"}],"goodwill":{"amount":1e2,"currency":"JPY"}}',
                     H + "\n" + ROW + "\n")
P["goodwill-2^53+1"] = (inc(W1, goodwill={"amount": 2 ** 53 + 1, "currency": "JPY"}), H + "\n" + ROW + "\n")
P["goodwill-2^53-1"] = (inc(W1, goodwill={"amount": 2 ** 53 - 1, "currency": "JPY"}), H + "\n" + ROW + "\n")
P["goodwill-rejected-row-only"] = (inc(W1, goodwill={"amount": 7, "currency": "JPY"}), H + "\nC1,S1,SPMAIL,007,JPY,2011-01-01,,,1\nC2,S2,SPMAIL,1,JPY,2011-01-01,2011-12-20,,1\nC3,S3,SPMAIL,1,JPY,2011-12-22T14:00:00+09:00,,,1\nC4,S4,SPMAIL,1,JPY,2011-12-22T13:59:59+09:00,,,1\n")
P["blank-in-quotes"] = (inc(W1), H + '\nC1,"S\n\n1",SPMAIL,1,JPY,2011-01-01,,,1\n""\nC2,S2,SPMAIL,1,JPY,2011-01-01,,,x\n')
P["invalid-utf8"] = (inc(W1), H + "\nC1,S\udcff1,SPMAIL,1,JPY,2011-01-01,,,1\nC2,S2,SPMAIL,1,JPY,2011-01-01,,,x\n")
P["incidentId-unicode"] = (inc(W1) | {"incidentId": "é"}, H + "\n" + ROW + "\n")
P["tz-trailing-space"] = (inc(W1, tz="Asia/Tokyo "), H + "\n" + ROW + "\n")
P["suspensions-object"] = (inc(W1) | {"suspensions": {"0": {"serviceCode": "SPMAIL", "start": "2011-12-21T00:00:00Z", "end": "2011-12-22T00:00:00Z"}}}, H + "\n" + ROW + "\n")
P["bom-quoted-header"] = (inc(W1), '\ufeff"subscription_id",' + H.split(",", 1)[1] + "\n" + ROW + "\n")
P["double-bom"] = (inc(W1), '\ufeff\ufeff' + H + "\n" + ROW + "\n")
P["window-identical-dups"] = (inc(W1 + W1 + W1, "exact"), H + "\n" + ROW + "\n")
P["window-contained"] = (inc([("SPMAIL", "2011-12-01T00:00:00Z", "2011-12-31T00:00:00Z"), ("SPMAIL", "2011-12-10T00:00:00Z", "2011-12-11T00:00:00Z")], "full-24h", tz="UTC"), H + "\n" + ROW + "\n")
P["row-at-before-window-date"] = (inc(W1, "full-24h"), H + "\nC1,S1,SPMAIL,3100,JPY,2011-12-21,2011-12-23,,1\nC2,S2,SPMAIL,3100,JPY,2011-12-21,2011-12-23,America/New_York,1\n")
P["instant-lowercase-offset-z"] = (inc(W1), H + "\nC1,S1,SPMAIL,1,JPY,2011-01-01T00:00:00z,,,1\nC2,S2,SPMAIL,1,JPY,2011-01-01T00:00:00+09,,,1\nC3,S3,SPMAIL,1,JPY,2011-01-01T00:00:00+09:00[Asia/Tokyo],,,1\n")
P["huge-year"] = (inc(W1), H + "\nC1,S1,SPMAIL,1,JPY,2011-01-01,9999-12-31T23:59:59+14:00,,1\nC2,S2,SPMAIL,1,JPY,0001-01-01T00:00:00-12:00,,Pacific/Apia,1\n")


# --- contract v2: scope (where, goodwill.scope), lengths in code points, 1 MiB, header checks
def inc2(wins, rule="calendar-day", goodwill=None, tz="Asia/Tokyo", **extra):
    """wins: (service, start, end[, where]) tuples."""
    d = inc([w[:3] for w in wins], rule, tz=tz, goodwill=goodwill, **extra)
    for w, j in zip(wins, d["suspensions"]):
        if len(w) > 3:
            j["where"] = w[3]
    return d


HP = H + ",plan"
GW = {"amount": 200, "currency": "JPY"}
A = ("SPMAIL", "2011-12-01T00:00:00+09:00", "2011-12-03T00:00:00+09:00")
B = ("SPMAIL", "2011-12-10T00:00:00+09:00", "2011-12-11T00:00:00+09:00")
PLANROWS = (HP + "\nC1,S1,SPMAIL,3100,JPY,2011-01-01,,,1,voice-only\nC2,S2,SPMAIL,3100,JPY,2011-01-01,,,1,data\n"
            "C3,S3,SPMAIL,3100,JPY,2011-01-01,,,1,\nC4,S4,SPMAIL,3100,JPY,2011-01-01,,,1,\"5G, unlimited\"\n"
            "C5,S5,SPMAIL,3100,JPY,2011-01-01,,,1, voice-only\nC6,S6,OTHER,3100,JPY,2011-01-01,,,1,voice-only\n")
P["v2-where-basic"] = (inc2([A, B + ({"plan": ["voice-only", ""]},)], goodwill=GW), PLANROWS)
P["v2-where-quoted-value"] = (inc2([A + ({"plan": ["5G, unlimited"]},)], goodwill=GW), PLANROWS)
P["v2-where-no-match-anyone"] = (inc2([A + ({"plan": ["nobody"]},)], goodwill=GW), PLANROWS)
for rule in ("calendar-day", "full-24h", "exact"):  # re-anchoring: only a row's own windows merge
    P[f"v2-reanchor-{rule}"] = (inc2([("SPMAIL", "2011-12-01T00:00:00+09:00", "2011-12-02T12:00:00+09:00"),
                                      ("SPMAIL", "2011-12-02T12:00:00+09:00", "2011-12-04T00:00:00+09:00", {"plan": ["voice-only"]}),
                                      ("SPMAIL", "2011-12-01T12:00:00+09:00", "2011-12-03T18:00:00+09:00", {"plan": ["data"]})], rule), PLANROWS)
GA = dict(GW, scope="active")
HULLROWS = (HP + "\nG1,S1,OTHER,1,JPY,2011-12-05,2011-12-06,,1,x\nG2,S2,OTHER,1,JPY,2011-11-01,2011-12-01,,1,x\n"
            "G3,S3,OTHER,1,JPY,2011-12-11,,,1,x\nG4,S4,OTHER,1,JPY,2011-12-10T23:59:59+09:00,,,1,x\n"
            "G5,S5,SPMAIL,1,JPY,2011-11-30T23:59:59+09:00,2011-12-01,,1,x\nG6,S6,SPMAIL,007,JPY,2011-12-05,,,1,x\n"
            "G7,S7,IMADOKO,1,JPY,2011-12-05,2011-12-06,Pacific/Apia,1,\nG8,S8,OTHER,1,JPY,2011-12-11T00:00:00+09:00,2011-12-11T00:00:01+09:00,,1,x\n")
P["v2-active-hull-gap"] = (inc2([A, B], goodwill=GA), HULLROWS)
P["v2-active-hull-other-service-where"] = (inc2([A, ("IMADOKO",) + B[1:] + ({"plan": ["nobody"]},)], goodwill=GA), HULLROWS)
P["v2-active-goodwill-where"] = (inc2([A, B], goodwill=dict(GA, where={"plan": [""]})), HULLROWS)
P["v2-refunded-goodwill-where"] = (inc2([A, B + ({"plan": ["data"]},)], goodwill=dict(GW, scope="refunded", where={"plan": ["voice-only", "data"]})), PLANROWS)
P["v2-full24-short-goodwill-where"] = (inc2([("SPMAIL", "2011-12-01T00:00:00+09:00", "2011-12-01T05:00:00+09:00", {"plan": ["data"]})], "full-24h", goodwill=GW), PLANROWS)
P["v2-subscriber-two-rows"] = (inc2([A + ({"plan": ["data"]},)], goodwill=dict(GW, where={"plan": ["voice-only"]})),
                               HP + "\nC1,S1,SPMAIL,1,JPY,2011-01-01,,,1,data\nC2,S1,OTHER,1,JPY,2011-01-01,,,1,voice-only\n"
                               "C3,S2,SPMAIL,1,JPY,2011-01-01,,,1,voice-only\nC4,S2,SPMAIL,1,JPY,2011-01-01,,,1,data\n")
P["v2-stray-scope-refunded"] = (inc2([A], goodwill=dict(GW, scope="refunded")), PLANROWS)
for name, where in [("null", None), ("empty", {}), ("array", ["plan"]), ("string", "plan"), ("empty-array", {"plan": []}),
                    ("value-number", {"plan": [1]}), ("value-null", {"plan": [None]}), ("value-string", {"plan": "data"}),
                    ("empty-key", {"": ["a"]}), ("contract-col", {"currency": ["JPY"]}), ("value-129", {"plan": ["x" * 129]}),
                    ("value-emoji-129", {"plan": ["😀" * 129]}), ("1001-values", {"plan": [str(i) for i in range(1001)]}),
                    ("17-keys", {f"k{i}": ["a"] for i in range(17)}), ("key-65", {"k" * 65: ["a"]}), ("key-emoji-65", {"😀" * 65: ["a"]})]:
    P[f"v2-bad-where-{name}"] = (inc2([A + (where,)]), PLANROWS)
    P[f"v2-bad-goodwill-where-{name}"] = (inc2([A], goodwill=dict(GW, where=where)), PLANROWS)
for sc in ("Active", "all", None, 1, "", ["active"], "refunded "):
    P[f"v2-bad-scope-{sc}"] = (inc2([A], goodwill=dict(GW, scope=sc)), PLANROWS)
P["v2-value-emoji-128"] = (inc2([A + ({"plan": ["😀" * 128, "data"]},)]), PLANROWS + "C9,S9,SPMAIL,1,JPY,2011-01-01,,,1," + "😀" * 128 + "\n")
P["v2-1000-values"] = (inc2([A + ({"plan": [str(i) for i in range(999)] + ["data"]},)]), PLANROWS)
K16 = [f"k{i}" for i in range(16)]
P["v2-16-keys"] = (inc2([A + ({k: ["1"] for k in K16},)]), H + "," + ",".join(K16) + "\nC1,S1,SPMAIL,1,JPY,2011-01-01,,,1," + ",".join("1" * 16)
                   + "\nC2,S2,SPMAIL,1,JPY,2011-01-01,,,1," + ",".join("1" * 15) + ",0\n")
for key in ("😀" * 64, "é" * 64, "k" * 64, " plan", "Subscription_ID", "constructor", "__proto__", "toString", "hasOwnProperty"):
    P[f"v2-key-{key[:12]}"] = (inc2([A + ({key: ["x", ""]},)], goodwill=dict(GW, where={key: ["x"]})),
                               H + "," + fuzz.csv_field(key, fuzz.random.Random(0)) + "\nC1,S1,SPMAIL,1,JPY,2011-01-01,,,1,x\nC2,S2,SPMAIL,1,JPY,2011-01-01,,,1,\nC3,S3,SPMAIL,1,JPY,2011-01-01,,,1,y\n")
P["v2-value-proto"] = (inc2([A + ({"plan": ["toString", "__proto__", "constructor"]},)]),
                       HP + "\nC1,S1,SPMAIL,1,JPY,2011-01-01,,,1,toString\nC2,S2,SPMAIL,1,JPY,2011-01-01,,,1,valueOf\nC3,S3,SPMAIL,1,JPY,2011-01-01,,,1,__proto__\n")
P["v2-header-missing-where-col"] = (inc2([A + ({"region": ["x"]},)]), PLANROWS)
P["v2-header-missing-goodwill-where-col"] = (inc2([A], goodwill=dict(GW, where={"region": ["x"]})), PLANROWS)
P["v2-header-case-where-col"] = (inc2([A + ({"Plan": ["data"]},)]), PLANROWS)
P["v2-header-dup-where-col"] = (inc2([A + ({"plan": ["data"]},)]), HP + ",plan\nC1,S1,SPMAIL,1,JPY,2011-01-01,,,1,data,data\n")
P["v2-header-dup-goodwill-where-col"] = (inc2([A], goodwill=dict(GW, where={"plan": ["data"]})), HP + ",plan\nC1,S1,SPMAIL,1,JPY,2011-01-01,,,1,data,data\n")
P["v2-header-dup-unnamed-col"] = (inc2([A + ({"plan": ["data"]},)]), HP + ",note,note\nC1,S1,SPMAIL,1,JPY,2011-01-01,,,1,data,a,b\n")
P["v2-header-missing-no-rows"] = (inc2([A + ({"region": ["x"]},)]), HP + "\n")
P["v2-where-col-bad-row"] = (inc2([A + ({"plan": ["data"]},)], goodwill=GA), HP + "\nC1,S1,SPMAIL,1,JPY,2011-01-01,,,1\nC2,S2,SPMAIL,1,JPY,2011-01-01,,,1,data\n")

P["v2-key-combining-64"] = (inc2([A + ({"e\u0301" * 32: ["x"]},)]), H + ",\"" + "e\u0301" * 32 + "\"\nC1,S1,SPMAIL,1,JPY,2011-01-01,,,1,x\n")
P["v2-key-combining-66"] = (inc2([A + ({"e\u0301" * 33: ["x"]},)]), H + ",\"" + "e\u0301" * 33 + "\"\nC1,S1,SPMAIL,1,JPY,2011-01-01,,,1,x\n")
P["v2-value-lone-surrogate"] = ('{"incidentId":"x","timeZone":"UTC","policy":{"rule":"exact","dayBasis":"actual","rounding":"floor"},'
                                '"suspensions":[{"serviceCode":"SPMAIL","start":"2011-12-01T00:00:00Z","end":"2011-12-02T00:00:00Z","where":{"plan":["\\ud83d","' + "x" * 127 + '\\ud800"]}}]}', PLANROWS)
P["v2-json-duplicate-keys"] = ('{"incidentId":"x","timeZone":"UTC","policy":{"rule":"exact","dayBasis":"actual","rounding":"floor"},'
                               '"suspensions":[{"serviceCode":"SPMAIL","start":"2011-12-01T00:00:00Z","end":"2011-12-02T00:00:00Z","where":{"plan":["data"],"plan":["voice-only"]}}],'
                               '"goodwill":{"amount":1,"currency":"JPY","scope":"bogus","scope":"active"}}', PLANROWS)
P["v2-where-cell-crlf"] = (inc2([A + ({"plan": ["a\r\nb"]},)]), HP + '\r\nC1,S1,SPMAIL,1,JPY,2011-01-01,,,1,"a\r\nb"\r\nC2,S2,SPMAIL,1,JPY,2011-01-01,,,1,"a\nb"\r\n')
P["v2-where-with-bom-first-col"] = (inc2([A + ({"plan": ["data"]},)]), "\ufeffplan," + H + "\ndata," + ROW + "\n")

# cells of several where columns must not run together (a cache keyed by joined text would confuse these)
HPB = H + ",plan,brand"
for sep in (",", "\u0000", "\t", "|", "\u001f", "\n", "\"", "\\", ":", "\u2028", " "):
    rows = (HPB + f'\nC1,S1,SPMAIL,3100,JPY,2011-01-01,,,1,{fuzz.csv_field("a" + sep + "b", fuzz.random.Random(0), True)},c\n'
            f'C2,S2,SPMAIL,3100,JPY,2011-01-01,,,1,a,{fuzz.csv_field("b" + sep + "c", fuzz.random.Random(0), True)}\n'
            f'C3,S3,SPMAIL,3100,JPY,2011-01-01,,,1,{fuzz.csv_field("a" + sep, fuzz.random.Random(0), True)},{fuzz.csv_field("b" + sep + "c", fuzz.random.Random(0), True)}\n'
            f'C4,S4,SPMAIL,3100,JPY,2011-01-01,,,1,{fuzz.csv_field("a" + sep + "b" + sep, fuzz.random.Random(0), True)},c\n')
    for order in ("fwd", "rev"):
        body = rows if order == "fwd" else rows.split("\n", 1)[0] + "\n" + "\n".join(reversed(rows.strip().split("\n")[1:])) + "\n"
        P[f"v2-cells-join-{ord(sep):x}-{order}"] = (inc2([A, B + ({"plan": ["a" + sep + "b", "a" + sep + "b" + sep], "brand": ["c"]},),
                                                       ("SPMAIL", "2011-12-20T00:00:00+09:00", "2011-12-21T00:00:00+09:00", {"plan": ["a"], "brand": ["b" + sep + "c"]})],
                                                      goodwill=dict(GW, where={"brand": ["c"]})), body)
# many distinct cell combinations (past any small cache), each row's own windows
_many = [HPB]
for i in range(6000):
    _many.append(f"M{i},S{i % 50},SPMAIL,{1000 + i},JPY,2011-01-01,,,1,p{i % 4500},b{i % 7}")
P["v2-many-combinations"] = (inc2([A, B + ({"plan": [f"p{i}" for i in range(0, 4500, 9)]},),
                                   ("SPMAIL", "2011-12-20T00:00:00+09:00", "2011-12-22T12:00:00+09:00", {"brand": ["b3", "b5"]}),
                                   ("SPMAIL", "2011-12-22T00:00:00+09:00", "2011-12-24T00:00:00+09:00", {"plan": [f"p{i}" for i in range(1, 4500, 7)], "brand": ["b5", "b6"]})],
                                  "full-24h", goodwill=dict(GA, where={"brand": ["b1", "b5"]})), "\n".join(_many) + "\n")


def _sized(total, fill="x", bom=False):
    base = inc(W1)
    base["pad"] = ""
    head = "\ufeff" if bom else ""
    n0 = len((head + json.dumps(base, ensure_ascii=False)).encode())
    k = (total - n0) // len(fill.encode())
    base["pad"] = fill * k
    text = head + json.dumps(base, ensure_ascii=False)
    text += " " * (total - len(text.encode()))
    assert len(text.encode()) == total
    return text


P["v2-incident-1MiB"] = (_sized(1 << 20), H + "\n" + ROW + "\n")
P["v2-incident-1MiB+1"] = (_sized((1 << 20) + 1), H + "\n" + ROW + "\n")
P["v2-incident-1MiB+1-multibyte"] = (_sized((1 << 20) + 1, "é"), H + "\n" + ROW + "\n")
P["v2-incident-1MiB-bom"] = (_sized(1 << 20, bom=True), H + "\n" + ROW + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cmd", default="node " + os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bin", "hiwari.js"))
    ap.add_argument("--all", action="store_true", help="print agreeing probes too")
    ap.add_argument("names", nargs="*")
    a = ap.parse_args()
    cmd = shlex.split(a.cmd)
    for name, (i, s) in P.items():
        if a.names and name not in a.names:
            continue
        d = tempfile.mkdtemp()
        with open(f"{d}/incident.json", "w", encoding="utf-8") as f:
            f.write(i if isinstance(i, str) else json.dumps(i, ensure_ascii=False))
        with open(f"{d}/subs.csv", "wb") as f:
            f.write(s.encode("utf-8", "surrogateescape"))
        diff = fuzz.compare(d, cmd)
        if diff or a.all or a.names:
            print(f"{'DIFF' if diff else 'same'} {name}: {diff or ''}")
            if a.names:
                for n in ("ref.jsonl", "proj.jsonl", "ref.rejects", "proj.rejects"):
                    if os.path.exists(f"{d}/{n}"):
                        print(f"  --- {n}\n" + "".join("  " + l for l in open(f"{d}/{n}")))
        shutil.rmtree(d)


if __name__ == "__main__":
    main()
