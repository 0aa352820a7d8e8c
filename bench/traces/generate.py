#!/usr/bin/env python3
"""Writes the autoscaler benchmark's seed-like traces (deterministic: fixed seeds).

daily-wave.json  24 h, one value per second: a night valley with no traffic
                 (01:00-06:00), a morning and an evening peak, noise, and
                 short partner-upload spikes every ~20 minutes during the day.
bursts.json      2 h mostly idle with 14 sudden bursts (20-120 s, 3-10x the
                 service rate of one replica) separated by 3-10 idle minutes.
hourly-batches.json  6 h: a batch of 150,000 events over the first 2 minutes
                 of every hour (1,250/s, past 12 replicas' capacity), 2/s
                 between batches.
flat-line.json   2 h at a steady 450/s (4.5 replicas' work).
slow-ramp.json   4 h: 0 -> 900/s over 2 h, then back down to 0.
spike-train.json 2 h: 30/s with a 10 s spike of 800/s every 5 minutes.
All: 100 events/s per replica, cold start 5 s, warm start 0.15 s, warm pool 1,
12 partitions (a 12-partition Kafka topic).
"""
import json
import math
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
COMMON = {"service_rate_per_replica": 100, "cold_start_seconds": 5, "warm_start_seconds": 0.15,
          "warm_pool": 1, "partitions": 12}


def daily_wave():
    rng = random.Random(20261123)
    arrivals = []
    for t in range(86400):
        hour = t / 3600.0
        if 1.0 <= hour < 6.0:
            rate = 0.0
        else:
            # Morning peak ~10:30 (300/s), evening peak ~20:30 (420/s), a floor of ~20/s by day.
            morning = 300 * math.exp(-((hour - 10.5) / 1.8) ** 2)
            evening = 420 * math.exp(-((hour - 20.5) / 1.5) ** 2)
            ramp = min(1.0, (hour - 6.0) / 1.0) if hour >= 6.0 else min(1.0, (1.0 - hour) / 1.0)
            rate = (20 + morning + evening) * max(ramp, 0.0)
            rate *= 1 + 0.15 * (rng.random() - 0.5)
        # Partner uploads: 40 s spikes of +250/s at minute 7 of every 20 between 08:00 and 23:00.
        if 8 <= hour < 23 and (t % 1200) >= 420 and (t % 1200) < 460:
            rate += 250
        arrivals.append(int(round(max(rate, 0.0))))
    return arrivals


def bursts():
    rng = random.Random(42)
    arrivals = [0] * 7200
    t = 120
    while t < 7000:
        length = rng.randint(20, 120)
        height = rng.randint(3, 10) * 100
        for s in range(t, min(t + length, 7200)):
            arrivals[s] = height
        t += length + rng.randint(180, 600)
    return arrivals


def hourly_batches():
    arrivals = [2] * (6 * 3600)
    for hour in range(6):
        for s in range(hour * 3600, hour * 3600 + 120):
            arrivals[s] = 1250
    return arrivals


def flat_line():
    return [450] * 7200


def slow_ramp():
    half = 2 * 3600
    up = [int(round(900 * t / half)) for t in range(half)]
    return up + up[::-1]


def spike_train():
    arrivals = [30] * 7200
    for start in range(150, 7200, 300):
        for s in range(start, min(start + 10, 7200)):
            arrivals[s] = 800
    return arrivals


TRACES = (("daily-wave", daily_wave()), ("bursts", bursts()), ("hourly-batches", hourly_batches()),
          ("flat-line", flat_line()), ("slow-ramp", slow_ramp()), ("spike-train", spike_train()))
for name, arrivals in TRACES:
    with open(os.path.join(HERE, name + ".json"), "w") as f:
        json.dump(dict(COMMON, arrivals=arrivals), f, separators=(",", ":"))
        f.write("\n")
    print(name, "seconds", len(arrivals), "events", sum(arrivals), "peak/s", max(arrivals))
