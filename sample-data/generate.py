#!/usr/bin/env python3
"""Generate pvwatch's synthetic sample data (never real case reports).

    python3 sample-data/generate.py

Writes reports.csv, report_products.csv, report_events.csv, products.csv,
populations.csv and event_terms.csv next to this script, then reads them back,
checks them and prints a summary. Standard library only. The output is a pure
function of SEED: the only source of randomness is `random.Random(SEED).random()`
(Mersenne Twister, stable across Python versions), nothing iterates a set, and
dicts are iterated in insertion order, so reruns give byte-identical files.

What is planted (signals, follow-ups, bad rows, batch clusters) is listed in
README.md; the bad rows' line numbers are the BAD_* constants below, the clusters'
are CLUSTER_FIRST_LINES, and `verify()` checks that the written files have them there.
"""

import csv
import datetime as dt
import hashlib
import math
import random
import sys
from pathlib import Path

SEED = 20251123
OUT = Path(__file__).resolve().parent
FIRST_DAY = dt.date(2024, 1, 1)
LAST_DAY = dt.date(2025, 12, 31)

# ---------------------------------------------------------------------------
# Deliberately bad rows: 1-based line numbers (the header is line 1).
# ---------------------------------------------------------------------------
BAD_REPORTS = [  # (line, column, value); in ascending line order
    (777, "class", "vaccine"),
    (1043, "age_years", "-4"),
    (2025, "region", "33010"),
    (3141, "sentinel", "maybe"),
    (4096, "report_id", None),  # duplicate: value = an earlier row's report_id
    (5555, "received_date", "2025-13-01"),
]
BAD_PRODUCTS = [  # (line, kind)
    (1234, "unknown_report:R2025-999998"),
    (5678, "role_primary"),
    (9876, "unknown_report:R2025-999999"),
]
BAD_EVENTS = [
    (2468, "unknown_report:R2025-999997"),
    (8642, "empty_event"),
]

# ---------------------------------------------------------------------------
# Planted batch clusters (疑似群体不良事件): hand-written single-version cases appended
# AFTER every other row of reports.csv, report_products.csv and report_events.csv, so no
# earlier line moves. They draw nothing from the Rng. `verify()` checks that they start at
# CLUSTER_FIRST_LINES and run to the end of each file, and that they are the only product +
# batch groups with at least CLUSTER_MIN_CASES cases first received within
# CLUSTER_WINDOW_DAYS days (pvwatch's alerts.cluster defaults).
# ---------------------------------------------------------------------------
CLUSTER_MIN_CASES = 3
CLUSTER_WINDOW_DAYS = 7
CLUSTER_FIRST_LINES = {"reports.csv": 7052, "report_products.csv": 10240,
                       "report_events.csv": 11369}
# Each case: (received, region, sentinel, serious, sex, age, onset days before receipt
# (None: empty onset_date), events, concomitant product ids (no batch)). All cases are
# version 1, reporter medical_institution, is_new false, fatal false, booleans true/false.
PLANTED_CLUSTERS = [
    {"tag": "ceftriaxone_B250611", "product": "D002", "batch": "B250611", "cases": [
        ("2025-06-12", "330100", True, True, "F", 46, 0, ["Anaphylactic reaction", "Chills"], []),
        ("2025-06-12", "330100", False, False, "M", 62, 0, ["Chills", "Pyrexia"], []),
        ("2025-06-13", "330100", False, False, "F", 7, 1, ["Rash", "Pyrexia"], []),
        ("2025-06-16", "330600", True, False, "M", 35, None, ["Chills", "Pyrexia", "Rash"], []),
        ("2025-06-17", "330100", False, True, "M", 71, 0, ["Anaphylactic reaction"], ["D013"]),
    ]},
    {"tag": "infusion_set_B240903", "product": "M004", "batch": "B240903", "cases": [
        ("2024-09-03", "310104", False, False, "F", 54, 0, ["Device breakage"], []),
        ("2024-09-04", "310112", False, False, "M", 67, 0, ["Device breakage", "Chills"], []),
        ("2024-09-06", "310115", False, False, "F", 38, 1, ["Device breakage", "Pyrexia"], []),
    ]},
]


# ---------------------------------------------------------------------------
# Randomness: everything goes through Rng.random().
# ---------------------------------------------------------------------------
class Rng:
    def __init__(self, seed):
        self._r = random.Random(seed)

    def random(self):
        return self._r.random()

    def below(self, n):
        return min(int(self._r.random() * n), n - 1)

    def randint(self, a, b):
        return a + self.below(b - a + 1)

    def chance(self, p):
        return self._r.random() < p

    def weighted(self, pairs):
        """pairs: list of (value, weight)."""
        total = sum(w for _, w in pairs)
        x = self._r.random() * total
        acc = 0.0
        for v, w in pairs:
            acc += w
            if x < acc:
                return v
        return pairs[-1][0]

    def shuffle(self, xs):
        for i in range(len(xs) - 1, 0, -1):
            j = self.below(i + 1)
            xs[i], xs[j] = xs[j], xs[i]

    def pick_distinct(self, pairs, k, exclude=()):
        out = []
        pool = [(v, w) for v, w in pairs if v not in exclude]
        while pool and len(out) < k:
            v = self.weighted(pool)
            out.append(v)
            pool = [(u, w) for u, w in pool if u != v]
        return out


# ---------------------------------------------------------------------------
# Reference data
# ---------------------------------------------------------------------------
# Regions: (code, name, weight within province)
ZHEJIANG = [
    ("330100", "杭州市", 11936010), ("330200", "宁波市", 9404283),
    ("330300", "温州市", 9572903), ("330400", "嘉兴市", 5400868),
    ("330500", "湖州市", 3367579), ("330600", "绍兴市", 5270977),
    ("330700", "金华市", 7050683), ("330800", "衢州市", 2276184),
    ("330900", "舟山市", 1157817), ("331000", "台州市", 6622888),
    ("331100", "丽水市", 2507396),
]
SHANGHAI = [  # district codes; weights are rough, not census figures
    ("310101", "黄浦区", 6), ("310104", "徐汇区", 10), ("310105", "长宁区", 6),
    ("310106", "静安区", 9), ("310107", "普陀区", 8), ("310109", "虹口区", 6),
    ("310110", "杨浦区", 9), ("310112", "闵行区", 14), ("310113", "宝山区", 10),
    ("310115", "浦东新区", 22), ("310116", "金山区", 4), ("310117", "松江区", 9),
]
SHANDONG = [  # weights rough; these cities deliberately have no population rows
    ("370100", "济南市", 10), ("370200", "青岛市", 11), ("370300", "淄博市", 5),
    ("370600", "烟台市", 7), ("370700", "潍坊市", 9), ("371300", "临沂市", 10),
]
SHANXI = [
    ("140100", "太原市", 5304061), ("140200", "大同市", 3105591),
    ("140300", "阳泉市", 1318505), ("140400", "长治市", 3180884),
    ("140500", "晋城市", 2194545), ("140600", "朔州市", 1593444),
    ("140700", "晋中市", 3379498), ("140800", "运城市", 4774508),
    ("140900", "忻州市", 2689668), ("141000", "临汾市", 3976481),
    ("141100", "吕梁市", 3398431),
]
PROVINCES = [  # (prefix, cities, weight): Zhejiang > Shanghai > Shandong > Shanxi
    ("33", ZHEJIANG, 0.45), ("31", SHANGHAI, 0.25),
    ("37", SHANDONG, 0.18), ("14", SHANXI, 0.12),
]

# Share targets by province for SENTINEL reports: (serious, new_or_serious).
# Zhejiang, Shanghai and Shandong meet the 18% / 40% sentinel targets; Shanxi misses.
SENTINEL_SHARES = {"33": (0.20, 0.45), "31": (0.195, 0.43),
                   "37": (0.195, 0.43), "14": (0.12, 0.30)}
OTHER_SHARES = {"drug": (0.14, 0.34), "device": (0.14, 0.34), "cosmetic": (0.05, 0.30)}
NEW_AMONG_SERIOUS = 0.30

# products: id, name, class, innovative, conditional, procured, approval, holder,
# weight as suspect (skewed: common generics, rare innovative drugs)
PRODUCTS = [
    ("D001", "阿莫西林胶囊", "drug", 0, 0, 0, "2004-06-15", "华东示例制药有限公司", 14),
    ("D002", "头孢曲松钠注射液", "drug", 0, 0, 0, "2006-03-20", "北方示例药业有限公司", 16),
    ("D003", "奥美拉唑肠溶胶囊", "drug", 0, 0, 0, "2005-09-12", "泰山示例药业有限公司", 6),
    ("D004", "盐酸二甲双胍片", "drug", 0, 0, 1, "2003-11-05", "华东示例制药有限公司", 5),
    ("D005", "阿托伐他汀钙片", "drug", 0, 0, 1, "2012-08-30", "江南示例药业有限公司", 6),
    ("D006", "硫酸氢氯吡格雷片", "drug", 0, 0, 1, "2010-04-22", "申江示例制药有限公司", 4),
    ("D007", "左氧氟沙星注射液", "drug", 0, 0, 0, "2008-07-18", "汾河示例制药有限公司", 12),
    ("D008", "替雷利珠单抗注射液", "drug", 1, 0, 0, "2019-12-26", "东海示例生物医药有限公司", 0.7),
    ("D009", "信迪利单抗注射液", "drug", 1, 0, 0, "2018-12-24", "西湖示例生物科技有限公司", 0.8),
    ("D010", "泽布替尼胶囊", "drug", 1, 1, 0, "2020-06-02", "东海示例生物医药有限公司", 0.35),
    ("D011", "甲磺酸伏美替尼片", "drug", 1, 1, 0, "2021-03-02", "申江示例医药科技有限公司", 0.35),
    ("D012", "注射用头孢呋辛钠", "drug", 0, 0, 0, "2007-05-10", "北方示例药业有限公司", 8),
    ("D013", "苯磺酸氨氯地平片", "drug", 0, 0, 1, "2009-02-14", "泰山示例药业有限公司", 3),
    ("D014", "氯沙坦钾片", "drug", 0, 0, 1, "2011-10-09", "江南示例药业有限公司", 2),
    ("D015", "阿卡波糖片", "drug", 0, 0, 1, "2013-06-21", "汾河示例制药有限公司", 2),
    ("D016", "恩替卡韦分散片", "drug", 0, 0, 1, "2014-01-16", "华东示例制药有限公司", 1.5),
    ("D017", "注射用奥美拉唑钠", "drug", 0, 0, 0, "2009-12-03", "申江示例制药有限公司", 4),
    ("D018", "布洛芬缓释胶囊", "drug", 0, 0, 0, "2002-08-27", "泰山示例药业有限公司", 4),
    ("D019", "甘精胰岛素注射液", "drug", 0, 0, 0, "2015-03-11", "东海示例生物医药有限公司", 2),
    ("D020", "依诺肝素钠注射液", "drug", 0, 0, 0, "2012-11-19", "江南示例药业有限公司", 2),
    ("D021", "甲氨蝶呤片", "drug", 0, 0, 0, "2001-05-08", "北方示例药业有限公司", 1.5),
    ("D022", "紫杉醇注射液", "drug", 0, 0, 0, "2006-10-25", "汾河示例制药有限公司", 3),
    ("D023", "顺铂注射液", "drug", 0, 0, 0, "2003-04-17", "华东示例制药有限公司", 3),
    ("D024", "利伐沙班片", "drug", 0, 0, 1, "2017-09-28", "申江示例制药有限公司", 2),
    ("D025", "注射用卡瑞利珠单抗", "drug", 1, 0, 0, "2019-05-29", "钱江示例生物制药有限公司", 0.8),
    ("D026", "普拉替尼胶囊", "drug", 0, 1, 0, "2021-03-23", "海通示例医药有限公司", 0.3),
    ("M001", "冠状动脉药物洗脱支架", "device", 0, 0, 1, "2016-07-12", "江南示例医疗器械有限公司", 10),
    ("M002", "人工髋关节假体", "device", 0, 0, 1, "2014-05-20", "泰山示例医疗器械有限公司", 6),
    ("M003", "一次性使用静脉留置针", "device", 0, 0, 0, "2011-03-08", "申江示例医疗器械有限公司", 30),
    ("M004", "一次性使用输液器", "device", 0, 0, 0, "2009-09-15", "江南示例医疗器械有限公司", 25),
    ("M005", "植入式心脏起搏器", "device", 0, 0, 0, "2018-11-02", "东海示例医疗科技有限公司", 4),
    ("M006", "人工晶状体", "device", 0, 0, 0, "2015-08-19", "西湖示例医疗科技有限公司", 5),
    ("M007", "人工膝关节假体", "device", 0, 0, 1, "2014-10-30", "泰山示例医疗器械有限公司", 5),
    ("M008", "一次性使用无菌注射器", "device", 0, 0, 0, "2010-06-07", "汾河示例医疗器械有限公司", 12),
    ("M009", "一次性使用血液透析器", "device", 0, 0, 0, "2013-12-12", "北方示例医疗器械有限公司", 4),
    ("K001", "美白精华液", "cosmetic", 0, 0, 0, "2021-08-16", "钱塘示例化妆品有限公司", 25),
    ("K002", "染发剂", "cosmetic", 0, 0, 0, "2019-04-11", "海滨示例日化有限公司", 20),
    ("K003", "防晒乳", "cosmetic", 0, 0, 0, "2020-06-30", "钱塘示例化妆品有限公司", 20),
    ("K004", "祛斑霜", "cosmetic", 0, 0, 0, "2022-03-09", "申江示例日化有限公司", 15),
    ("K005", "保湿面霜", "cosmetic", 0, 0, 0, "2023-01-05", "海滨示例日化有限公司", 20),
]
PRODUCT_CLASS = {p[0]: p[2] for p in PRODUCTS}
SUSPECT_WEIGHTS = {
    cls: [(p[0], p[8]) for p in PRODUCTS if p[2] == cls]
    for cls in ("drug", "device", "cosmetic")
}
# Not in products.csv: allowed, simply not watched.
UNKNOWN_PRODUCTS = {
    "drug": ["D901", "D902", "D903", "D904", "D905", "D906", "D907", "D908"],
    "device": ["M901", "M902", "M903"],
    "cosmetic": ["K901", "K902"],
}
# Concomitant medication pool for drug reports (common chronic generics).
CONCOMITANT_DRUGS = [
    ("D005", 5), ("D004", 4), ("D013", 4), ("D003", 5), ("D006", 3),
    ("D014", 2), ("D015", 1), ("D019", 1), ("D016", 1), ("D018", 2),
]
CONCOMITANT_DEVICES = [("M003", 3), ("M004", 3), ("M008", 2)]
IMPLANTS = ("M001", "M002", "M005", "M006", "M007")
ONCOLOGY = ("D008", "D009", "D010", "D011", "D021", "D022", "D023", "D025", "D026")

EVENT_SOC = {
    "Abdominal pain": "Gastrointestinal disorders",
    "Alopecia": "Skin and subcutaneous tissue disorders",
    "Anaphylactic reaction": "Immune system disorders",
    "Atrial fibrillation": "Cardiac disorders",
    "Chills": "General disorders and administration site conditions",
    "Dermatitis contact": "Skin and subcutaneous tissue disorders",
    "Device breakage": "Product issues",
    "Device dislocation": "Product issues",
    "Device malfunction": "Product issues",
    "Diarrhoea": "Gastrointestinal disorders",
    "Dizziness": "Nervous system disorders",
    "Erythema": "Skin and subcutaneous tissue disorders",
    "Gastrointestinal haemorrhage": "Gastrointestinal disorders",
    "Haemorrhage": "Vascular disorders",
    "Headache": "Nervous system disorders",
    "Hepatic function abnormal": "Hepatobiliary disorders",
    "Hypertension": "Vascular disorders",
    "Hypoglycaemia": "Metabolism and nutrition disorders",
    "Hypotension": "Vascular disorders",
    "Hypothyroidism": "Endocrine disorders",
    "Immune-mediated hepatitis": "Hepatobiliary disorders",
    "Implant site infection": "Infections and infestations",
    "Injection site reaction": "General disorders and administration site conditions",
    "Insomnia": "Psychiatric disorders",
    "Interstitial lung disease": "Respiratory, thoracic and mediastinal disorders",
    "Leukopenia": "Blood and lymphatic system disorders",
    "Myalgia": "Musculoskeletal and connective tissue disorders",
    "Myocarditis": "Cardiac disorders",
    "Nausea": "Gastrointestinal disorders",
    "Oedema peripheral": "General disorders and administration site conditions",
    "Pain": "General disorders and administration site conditions",
    "Palpitations": "Cardiac disorders",
    "Phlebitis": "Vascular disorders",
    "Pruritus": "Skin and subcutaneous tissue disorders",
    "Pyrexia": "General disorders and administration site conditions",
    "Rash": "Skin and subcutaneous tissue disorders",
    "Skin irritation": "Skin and subcutaneous tissue disorders",
    "Skin swelling": "Skin and subcutaneous tissue disorders",
    "Thrombocytopenia": "Blood and lymphatic system disorders",
    "Thrombosis": "Vascular disorders",
    "Urticaria": "Skin and subcutaneous tissue disorders",
    "Vision blurred": "Eye disorders",
    "Vomiting": "Gastrointestinal disorders",
}

PD1 = [("Rash", 8), ("Pruritus", 6), ("Hepatic function abnormal", 5), ("Hypothyroidism", 6),
       ("Interstitial lung disease", 3), ("Pyrexia", 4), ("Leukopenia", 3), ("Diarrhoea", 3)]
PROFILES = {
    # Background for drugs whose id is unknown.
    "drug?": [("Rash", 20), ("Pruritus", 14), ("Urticaria", 6), ("Nausea", 10), ("Vomiting", 6),
              ("Diarrhoea", 5), ("Dizziness", 7), ("Headache", 6), ("Anaphylactic reaction", 1),
              ("Hepatic function abnormal", 3), ("Chills", 3), ("Pyrexia", 3), ("Palpitations", 2)],
    "device?": [("Device malfunction", 8), ("Device breakage", 5), ("Pain", 3)],
    "cosmetic?": [("Erythema", 6), ("Skin irritation", 6), ("Pruritus", 4), ("Rash", 3)],
    "D001": [("Rash", 30), ("Pruritus", 15), ("Urticaria", 8), ("Diarrhoea", 10), ("Nausea", 8),
             ("Vomiting", 4), ("Anaphylactic reaction", 1), ("Headache", 3), ("Dizziness", 2)],
    "D002": [("Rash", 25), ("Pruritus", 15), ("Urticaria", 8), ("Chills", 6), ("Pyrexia", 5),
             ("Anaphylactic reaction", 3), ("Injection site reaction", 5), ("Nausea", 5),
             ("Palpitations", 3), ("Dizziness", 3), ("Headache", 3)],
    "D003": [("Diarrhoea", 10), ("Nausea", 8), ("Headache", 8), ("Abdominal pain", 6), ("Rash", 6),
             ("Dizziness", 4), ("Pruritus", 3)],
    "D004": [("Diarrhoea", 15), ("Nausea", 10), ("Abdominal pain", 8), ("Vomiting", 5),
             ("Hypoglycaemia", 2), ("Rash", 3), ("Dizziness", 3), ("Headache", 2)],
    # Atorvastatin: no Headache here; it is assigned at the background rate later.
    "D005": [("Myalgia", 12), ("Hepatic function abnormal", 8), ("Nausea", 5), ("Rash", 4),
             ("Abdominal pain", 3), ("Dizziness", 3), ("Pruritus", 2), ("Diarrhoea", 2)],
    "D006": [("Gastrointestinal haemorrhage", 10), ("Rash", 6), ("Pruritus", 3),
             ("Thrombocytopenia", 2), ("Diarrhoea", 3), ("Haemorrhage", 3), ("Headache", 2),
             ("Dizziness", 2)],
    "D007": [("Rash", 15), ("Pruritus", 10), ("Dizziness", 8), ("Insomnia", 5), ("Nausea", 8),
             ("Injection site reaction", 5), ("Palpitations", 3), ("Headache", 3),
             ("Anaphylactic reaction", 1), ("Vomiting", 3)],
    # Tislelizumab: Myocarditis and Immune-mediated hepatitis only in planted cases.
    "D008": PD1,
    "D009": PD1 + [("Myocarditis", 0.7), ("Immune-mediated hepatitis", 0.7)],
    "D010": [("Leukopenia", 8), ("Thrombocytopenia", 6), ("Haemorrhage", 5), ("Diarrhoea", 4),
             ("Rash", 4), ("Atrial fibrillation", 3), ("Hypertension", 2)],
    "D011": [("Diarrhoea", 8), ("Rash", 8), ("Hepatic function abnormal", 4),
             ("Interstitial lung disease", 2), ("Pruritus", 3), ("Leukopenia", 2)],
    "D012": [("Rash", 20), ("Pruritus", 12), ("Urticaria", 5), ("Chills", 4), ("Pyrexia", 3),
             ("Anaphylactic reaction", 2), ("Nausea", 5), ("Diarrhoea", 3), ("Dizziness", 3),
             ("Headache", 3)],
    "D013": [("Oedema peripheral", 10), ("Headache", 6), ("Dizziness", 6), ("Palpitations", 4),
             ("Rash", 3), ("Nausea", 2)],
    "D014": [("Dizziness", 8), ("Hypotension", 4), ("Headache", 4), ("Rash", 3), ("Nausea", 2),
             ("Palpitations", 2)],
    "D015": [("Abdominal pain", 8), ("Diarrhoea", 8), ("Nausea", 4), ("Hypoglycaemia", 2),
             ("Rash", 2)],
    "D016": [("Headache", 5), ("Nausea", 5), ("Dizziness", 4), ("Hepatic function abnormal", 4),
             ("Diarrhoea", 3), ("Rash", 2)],
    "D017": [("Rash", 8), ("Diarrhoea", 6), ("Injection site reaction", 5), ("Headache", 4),
             ("Nausea", 4), ("Dizziness", 3), ("Pruritus", 3)],
    "D018": [("Nausea", 6), ("Abdominal pain", 6), ("Rash", 6), ("Gastrointestinal haemorrhage", 2),
             ("Urticaria", 3), ("Vomiting", 3), ("Dizziness", 2)],
    "D019": [("Hypoglycaemia", 20), ("Injection site reaction", 8), ("Rash", 2), ("Pruritus", 2)],
    "D020": [("Injection site reaction", 10), ("Haemorrhage", 5), ("Gastrointestinal haemorrhage", 3),
             ("Thrombocytopenia", 4), ("Rash", 2)],
    "D021": [("Leukopenia", 10), ("Hepatic function abnormal", 6), ("Nausea", 6),
             ("Thrombocytopenia", 4), ("Interstitial lung disease", 1.5), ("Vomiting", 3),
             ("Alopecia", 2)],
    "D022": [("Leukopenia", 15), ("Anaphylactic reaction", 4), ("Rash", 5), ("Nausea", 6),
             ("Alopecia", 5), ("Myalgia", 3), ("Vomiting", 4), ("Thrombocytopenia", 3)],
    "D023": [("Nausea", 15), ("Vomiting", 15), ("Leukopenia", 10), ("Thrombocytopenia", 5),
             ("Hepatic function abnormal", 2)],
    "D024": [("Gastrointestinal haemorrhage", 12), ("Haemorrhage", 6), ("Rash", 2), ("Nausea", 2),
             ("Dizziness", 2)],
    "D025": PD1 + [("Myocarditis", 0.5), ("Immune-mediated hepatitis", 0.7)],
    "D026": [("Hepatic function abnormal", 5), ("Hypertension", 4), ("Leukopenia", 4),
             ("Diarrhoea", 2), ("Interstitial lung disease", 1)],
    # Stent: no Thrombosis here; the 15 stent-thrombosis cases are planted.
    "M001": [("Pain", 4), ("Device malfunction", 3), ("Haemorrhage", 1.5), ("Device dislocation", 1.5)],
    "M002": [("Pain", 8), ("Device dislocation", 6), ("Implant site infection", 4),
             ("Device breakage", 3)],
    "M003": [("Phlebitis", 8), ("Device breakage", 5), ("Device malfunction", 5), ("Thrombosis", 0.4),
             ("Pain", 3), ("Haemorrhage", 2)],
    "M004": [("Device malfunction", 8), ("Device breakage", 5), ("Chills", 3), ("Pyrexia", 2),
             ("Rash", 1)],
    "M005": [("Device malfunction", 8), ("Implant site infection", 4), ("Pain", 3),
             ("Device dislocation", 4), ("Palpitations", 2)],
    "M006": [("Vision blurred", 8), ("Device dislocation", 6), ("Pain", 2)],
    "M007": [("Pain", 8), ("Implant site infection", 4), ("Device breakage", 3),
             ("Device dislocation", 3)],
    "M008": [("Device breakage", 6), ("Device malfunction", 6), ("Pain", 3),
             ("Injection site reaction", 2)],
    "M009": [("Hypotension", 6), ("Thrombosis", 1), ("Haemorrhage", 3), ("Chills", 3),
             ("Anaphylactic reaction", 1), ("Device malfunction", 4)],
    "K001": [("Erythema", 8), ("Skin irritation", 8), ("Pruritus", 6), ("Dermatitis contact", 5),
             ("Rash", 3)],
    "K002": [("Dermatitis contact", 12), ("Skin swelling", 6), ("Pruritus", 5), ("Erythema", 5),
             ("Alopecia", 2), ("Urticaria", 2)],
    "K003": [("Erythema", 6), ("Skin irritation", 6), ("Pruritus", 4), ("Rash", 4),
             ("Dermatitis contact", 3)],
    "K004": [("Erythema", 6), ("Skin irritation", 6), ("Dermatitis contact", 5), ("Pruritus", 3),
             ("Rash", 3)],
    "K005": [("Skin irritation", 5), ("Erythema", 5), ("Pruritus", 4), ("Rash", 3),
             ("Dermatitis contact", 3)],
}
# How strongly an event pushes a case towards "serious" (and follow-up, death).
SEVERITY = {
    "Myocarditis": 1.0, "Anaphylactic reaction": 0.8, "Immune-mediated hepatitis": 0.7,
    "Interstitial lung disease": 0.7, "Gastrointestinal haemorrhage": 0.6, "Thrombosis": 0.6,
    "Haemorrhage": 0.4, "Thrombocytopenia": 0.4, "Implant site infection": 0.4,
    "Atrial fibrillation": 0.4, "Leukopenia": 0.3, "Hypoglycaemia": 0.3,
    "Device dislocation": 0.3, "Hepatic function abnormal": 0.2, "Device breakage": 0.2,
    "Hypotension": 0.2, "Skin swelling": 0.1,
}

# Planted signals: (tag, product, event, cases in 2024, cases in 2025)
PLANTED = [
    ("tislelizumab_myocarditis", "D008", "Myocarditis", 4, 12),
    ("tislelizumab_imh", "D008", "Immune-mediated hepatitis", 5, 9),
    ("stent_thrombosis", "M001", "Thrombosis", 5, 10),
]
N_BACKGROUND = 5955  # + 45 planted = 6000 cases


# ---------------------------------------------------------------------------
# Case generation
# ---------------------------------------------------------------------------
def days_between(a, b):
    return [a + dt.timedelta(days=i) for i in range((b - a).days + 1)]


ALL_DAYS = days_between(FIRST_DAY, LAST_DAY)


def day_weight(d):
    season = 1.0 + 0.2 * math.cos(2 * math.pi * (d.timetuple().tm_yday - 15) / 365.0)
    weekend = 0.45 if d.weekday() >= 5 else 1.0
    growth = 1.1 if d.year == 2025 else 1.0
    return season * weekend * growth


DAY_PAIRS = [(d, day_weight(d)) for d in ALL_DAYS]


def pick_day(rng, year=None):
    pairs = DAY_PAIRS if year is None else [(d, w) for d, w in DAY_PAIRS if d.year == year]
    return rng.weighted(pairs)


def pick_region(rng):
    prefix = rng.weighted([(p, w) for p, _, w in PROVINCES])
    cities = next(c for p, c, _ in PROVINCES if p == prefix)
    return rng.weighted([(code, w) for code, _, w in cities])


def pick_age(rng, cls, product):
    if rng.chance(0.03):
        return None
    if product in ONCOLOGY:
        return float(rng.randint(35, 82))
    if product in IMPLANTS:
        return float(rng.randint(48, 92))
    if cls == "cosmetic":
        return float(rng.randint(16, 66))
    band = rng.weighted([("child", 0.10), ("adult", 0.55), ("elder", 0.35)])
    if band == "child":
        if rng.chance(0.35):  # infant, in months
            return round(rng.randint(1, 11) / 12.0, 1)
        age = float(rng.randint(1, 14))
        if age <= 2 and rng.chance(0.5):
            age += 0.5
        return age
    if band == "adult":
        return float(rng.randint(15, 64))
    return float(rng.randint(65, 95))


def pick_sex(rng, cls, product):
    if rng.chance(0.02):
        return "U"
    if cls == "cosmetic":
        p_f = 0.85
    elif product in ("M001", "M005", "D008", "D009", "D025"):
        p_f = 0.32
    elif cls == "device":
        p_f = 0.45
    else:
        p_f = 0.52
    return "F" if rng.chance(p_f) else "M"


BATCH_USE = {}  # (product_id, batch) -> received dates of the cases that named it


def batch_code(rng, received, pid):
    """A batch made 1-14 months before receipt, e.g. B240312 = 2024-03, batch 12.

    Re-drawn while the same product and batch already occur within 60 days, so the
    sample has no accidental clusters (same product and batch in a short window).
    """
    for _ in range(50):
        made = received - dt.timedelta(days=rng.randint(30, 420))
        code = "B%02d%02d%02d" % (made.year % 100, made.month, rng.randint(1, 99))
        near = [d for d in BATCH_USE.get((pid, code), []) if abs((d - received).days) <= 60]
        if not near:
            break
    BATCH_USE.setdefault((pid, code), []).append(received)
    return code


class Case:
    def __init__(self, idx):
        self.idx = idx
        self.tag = None        # planted-signal tag, or "bad:<column>"
        self.cls = None
        self.region = None
        self.reporter = None
        self.sentinel = None   # True / False / None (unknown)
        self.sex = None
        self.age = None
        self.age_hidden_v1 = False  # age missing on version 1, filled by the follow-up
        self.products = []     # [product_id, role, batch, since_version]
        self.events = []       # [event, onset_date or None, since_version]
        self.dates = []        # received date of each version
        self.is_new = None
        self.serious = False
        self.fatal = False
        self.escalated = None  # None / "serious" / "fatal": earlier versions were milder
        self.bool_styles = []  # per version

    @property
    def suspects(self):
        return [p for p in self.products if p[1] in ("suspect", "interacting", "")]

    def severity(self):
        return max([SEVERITY.get(e[0], 0.0) for e in self.events] or [0.0])


def pick_products(rng, case, forced=None):
    cls, d1 = case.cls, case.dates[0]
    rows = []

    def batch(pid):
        p_batch = 0.3 if cls == "cosmetic" else 0.88
        return batch_code(rng, d1, pid) if rng.chance(p_batch) else ""

    if forced:
        suspects = [forced]
    elif rng.chance(0.007):
        suspects = [UNKNOWN_PRODUCTS[cls][rng.below(len(UNKNOWN_PRODUCTS[cls]))]]
    else:
        suspects = rng.pick_distinct(SUSPECT_WEIGHTS[cls], 1)
    first = suspects[0]
    if cls == "drug" and not forced and rng.chance(0.10):
        # A second suspect, from the common generics.
        suspects += rng.pick_distinct(SUSPECT_WEIGHTS["drug"][:7], 1, exclude=suspects)
    for pid in suspects:
        role = "" if rng.chance(0.006) else "suspect"
        rows.append([pid, role, batch(pid), 1])
    if cls == "drug" and first == "D006" and rng.chance(0.2) and "D003" not in suspects:
        rows.append(["D003", "interacting", batch("D003"), 1])  # clopidogrel + omeprazole
    if cls == "drug":
        n_con = rng.weighted([(0, 0.62), (1, 0.28), (2, 0.10)])
        if first in ONCOLOGY and first not in ("D022", "D023") and rng.chance(0.3):
            n_con = max(n_con, 1)
            chemo = ("D022", "D023")[rng.below(2)]
            rows.append([chemo, "concomitant", batch(chemo), 1])
            n_con -= 1
        taken = [r[0] for r in rows]
        for _ in range(n_con):
            if len(rows) >= 3:
                break
            if rng.chance(0.04):
                pid = UNKNOWN_PRODUCTS["drug"][rng.below(len(UNKNOWN_PRODUCTS["drug"]))]
            else:
                got = rng.pick_distinct(CONCOMITANT_DRUGS, 1, exclude=taken)
                if not got:
                    break
                pid = got[0]
            if pid in taken:
                continue
            taken.append(pid)
            rows.append([pid, "concomitant", batch(pid), 1])
    elif cls == "device" and rng.chance(0.10) and len(rows) < 3:
        got = rng.pick_distinct(CONCOMITANT_DEVICES, 1, exclude=[r[0] for r in rows])
        if got:
            rows.append([got[0], "concomitant", batch(got[0]), 1])
    elif cls == "cosmetic" and rng.chance(0.10):
        got = rng.pick_distinct(SUSPECT_WEIGHTS["cosmetic"], 1, exclude=[r[0] for r in rows])
        if got:
            rows.append([got[0], "suspect" if rng.chance(0.5) else "concomitant", batch(got[0]), 1])
    return rows[:3]


def profile_for(case):
    pid = case.suspects[0][0] if case.suspects else case.products[0][0]
    return PROFILES.get(pid, PROFILES[case.cls + "?"])


def onset_for(rng, case):
    if rng.chance(0.45):
        return None
    pid = case.products[0][0]
    back = rng.randint(0, 365) if pid in IMPLANTS else rng.randint(0, 21)
    return case.dates[0] - dt.timedelta(days=back)


def gen_case(rng, idx, cls=None, day=None, forced_product=None, forced_event=None):
    c = Case(idx)
    c.cls = cls or rng.weighted([("drug", 0.70), ("device", 0.20), ("cosmetic", 0.10)])
    c.dates = [day or pick_day(rng)]
    c.region = pick_region(rng)
    if forced_product:
        c.reporter = "medical_institution" if rng.chance(0.85) else "mah"
    else:
        c.reporter = rng.weighted([("medical_institution", 75), ("mah", 12), ("distributor", 6),
                                   ("individual", 4), ("other", 3), ("", 0.5)])
    if c.reporter == "medical_institution":
        c.sentinel = rng.chance(0.30)
    elif c.reporter == "":
        c.sentinel = None if rng.chance(0.5) else False
    else:
        c.sentinel = False
    if rng.chance(0.008):
        c.sentinel = None
    c.products = pick_products(rng, c, forced_product)
    first = c.products[0][0]
    c.sex = pick_sex(rng, c.cls, first)
    c.age = pick_age(rng, c.cls, first)
    profile = profile_for(c)
    if forced_event:
        events = [forced_event]
        if rng.chance(0.3):
            events += rng.pick_distinct(profile, 1, exclude=events)
    else:
        n = rng.weighted([(1, 0.55), (2, 0.33), (3, 0.12)])
        events = rng.pick_distinct(profile, n)
    c.events = [[e, onset_for(rng, c), 1] for e in events]
    return c


def add_followups(rng, c):
    """Versions 2 and 3, 5-60 days apart, never past LAST_DAY."""
    sev = c.severity()
    p2 = 0.125 + 0.30 * sev + (0.2 if c.tag else 0.0)
    if not rng.chance(p2):
        return
    n_more = 2 if rng.chance(0.21) else 1
    for _ in range(n_more):
        nxt = c.dates[-1] + dt.timedelta(days=rng.randint(5, 60))
        if nxt > LAST_DAY:
            break
        c.dates.append(nxt)
    if len(c.dates) == 1:
        return
    # The follow-up sometimes brings new information.
    if rng.chance(0.2) and len(c.events) < 3:
        extra = rng.pick_distinct(profile_for(c), 1, exclude=[e[0] for e in c.events])
        if extra:
            c.events.append([extra[0], None, 2])
    if rng.chance(0.1) and len(c.products) < 3:
        pool = CONCOMITANT_DRUGS if c.cls == "drug" else (
            CONCOMITANT_DEVICES if c.cls == "device" else SUSPECT_WEIGHTS["cosmetic"])
        got = rng.pick_distinct(pool, 1, exclude=[p[0] for p in c.products])
        if got:
            bt = batch_code(rng, c.dates[0], got[0]) if c.cls != "cosmetic" else ""
            c.products.append([got[0], "concomitant", bt, 2])
    if c.age is not None and rng.chance(0.05):
        c.age_hidden_v1 = True


def plant_atorvastatin_headache(rng, cases):
    """Headache with atorvastatin (suspect) exactly at the background rate."""
    drug = [c for c in cases if c.cls == "drug"]
    ator = [c for c in drug if any(p[0] == "D005" for p in c.suspects)]
    rest = [c for c in drug if not any(p[0] == "D005" for p in c.suspects)]
    with_ha = sum(1 for c in rest if any(e[0] == "Headache" for e in c.events))
    rate = with_ha / len(rest)
    k = int(round(rate * len(ator)))
    have = [c for c in ator if any(e[0] == "Headache" for e in c.events)]
    lack = [c for c in ator if not any(e[0] == "Headache" for e in c.events)]
    rng.shuffle(lack)
    for c in lack[:max(0, k - len(have))]:
        if len(c.events) >= 3:
            c.events[-1] = ["Headache", onset_for(rng, c), 1]
        else:
            c.events.append(["Headache", onset_for(rng, c), 1])
    return k, len(ator), rate


def assign_seriousness(rng, cases):
    groups = {}
    for c in cases:
        sen = {True: "T", False: "F", None: "U"}[c.sentinel]
        key = (c.region[:2], c.dates[-1].year, c.cls, sen)
        groups.setdefault(key, []).append(c)
    for key in sorted(groups):
        members = groups[key]
        prov, _, cls, sen = key
        s, q = SENTINEL_SHARES[prov] if sen == "T" else OTHER_SHARES[cls]
        n = len(members)
        scored = sorted(members, key=lambda c: (-(rng.random() + c.severity()), c.idx))
        k_s = int(round(s * n))
        serious, other = scored[:k_s], scored[k_s:]
        k_new_other = int(round((q - s) * n))
        for c in serious:
            c.serious = True
        rng.shuffle(serious)
        k_new_serious = int(round(NEW_AMONG_SERIOUS * len(serious)))
        for i, c in enumerate(serious):
            c.is_new = i < k_new_serious
        other = sorted(other, key=lambda c: c.idx)
        rng.shuffle(other)
        for i, c in enumerate(other):
            c.is_new = i < k_new_other
        for c in serious:
            if cls == "cosmetic":
                p = 0.0
            elif c.tag == "tislelizumab_myocarditis":
                p = 0.2
            else:
                p = 0.03 + (0.14 if c.severity() >= 0.6 else 0.0)
            c.fatal = rng.chance(p)
    # Unknown "new" status on a few non-sentinel, non-new cases.
    for c in cases:
        if c.sentinel is False and c.is_new is False and not c.serious and rng.chance(0.005):
            c.is_new = None
    # Escalation across versions: the outcome became serious or fatal in a follow-up.
    for c in cases:
        if len(c.dates) > 1:
            if c.fatal and rng.chance(0.6):
                c.escalated = "fatal"
            elif c.serious and not c.fatal and rng.chance(0.3):
                c.escalated = "serious"


def version_flags(c, v):
    last = len(c.dates)
    serious, fatal = c.serious, c.fatal
    if v < last and c.escalated == "fatal":
        fatal = False
    if v < last and c.escalated == "serious":
        serious = False
    return c.is_new, serious, fatal


BOOL_FORMS = {"tf": ("true", "false"), "10": ("1", "0"), "yn": ("yes", "no"), "zh": ("是", "否")}


def fmt_bool(v, style):
    if v is None:
        return ""
    t, f = BOOL_FORMS[style]
    return t if v else f


def fmt_age(a):
    if a is None:
        return ""
    return str(int(a)) if a == int(a) else "%.1f" % a


# ---------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------
def build(rng):
    cases = []
    for i in range(N_BACKGROUND):
        cases.append(gen_case(rng, len(cases)))
    for tag, pid, event, n24, n25 in PLANTED:
        cls = PRODUCT_CLASS[pid]
        for year, n in ((2024, n24), (2025, n25)):
            for _ in range(n):
                c = gen_case(rng, len(cases), cls=cls, day=pick_day(rng, year),
                             forced_product=pid, forced_event=event)
                c.tag = tag
                cases.append(c)
    for c in cases:
        add_followups(rng, c)
    ator = plant_atorvastatin_headache(rng, cases)
    assign_seriousness(rng, cases)

    # Bad report rows are extra single-version cases with no products or events.
    bad_cases = []
    for line, col, value in BAD_REPORTS:
        c = gen_case(rng, len(cases) + len(bad_cases), cls="drug")
        c.products, c.events = [], []
        c.tag = "bad:" + col
        c.reporter, c.sentinel = "medical_institution", rng.chance(0.3)
        c.is_new, c.serious, c.fatal = rng.chance(0.25), False, False
        bad_cases.append((line, col, value, c))

    all_cases = cases + [b[3] for b in bad_cases]
    for c in all_cases:
        c.bool_styles = [rng.weighted([("tf", 0.94), ("10", 0.02), ("yn", 0.02), ("zh", 0.02)])
                         for _ in c.dates]

    # Report rows in received order, then the bad rows at their fixed lines.
    rows = [(c.dates[v - 1], c.idx, v, c) for c in cases for v in range(1, len(c.dates) + 1)]
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    rows = [(r[3], r[2]) for r in rows]
    for line, col, value, c in bad_cases:  # ascending line order
        at = line - 2
        prev_case, prev_v = rows[at - 1]
        c.dates = [prev_case.dates[prev_v - 1]]
        rows.insert(at, (c, 1))

    # report_id: sequence per year of receipt, in file order; case_id by first appearance.
    report_ids = {}
    case_ids = {}
    seq = {}
    dup = None
    for i, (c, v) in enumerate(rows):
        if c.idx not in case_ids:
            case_ids[c.idx] = "C%06d" % (len(case_ids) + 1)
        if c.tag == "bad:report_id":
            dup = i
            continue
        y = c.dates[v - 1].year
        seq[y] = seq.get(y, 0) + 1
        report_ids[(c.idx, v)] = "R%d-%06d" % (y, seq[y])
    # The duplicate reuses the id of an earlier plain single-version case.
    j = dup - 40
    while not (rows[j][0].tag is None and len(rows[j][0].dates) == 1):
        j -= 1
    dup_c = rows[dup][0]
    report_ids[(dup_c.idx, 1)] = report_ids[(rows[j][0].idx, 1)]
    dup_source_line = j + 2

    reports = []
    for c, v in rows:
        is_new, serious, fatal = version_flags(c, v)
        style = c.bool_styles[v - 1]
        age = None if (v == 1 and c.age_hidden_v1 and len(c.dates) > 1) else c.age
        row = {
            "report_id": report_ids[(c.idx, v)],
            "case_id": case_ids[c.idx],
            "version": str(v),
            "received_date": c.dates[v - 1].isoformat(),
            "class": c.cls,
            "region": c.region,
            "reporter_type": c.reporter,
            "sentinel": fmt_bool(c.sentinel, style),
            "is_new": fmt_bool(is_new, style),
            "is_serious": fmt_bool(serious, style),
            "fatal": fmt_bool(fatal, style),
            "sex": c.sex,
            "age_years": fmt_age(age),
        }
        if c.tag and c.tag.startswith("bad:") and c.tag != "bad:report_id":
            col = c.tag[4:]
            row[col] = next(val for _, cc, val in BAD_REPORTS if cc == col)
        reports.append(row)

    products_rows, events_rows = [], []
    for c, v in rows:
        if c.tag and c.tag.startswith("bad:"):
            continue
        rid = report_ids[(c.idx, v)]
        for pid, role, batch, since in c.products:
            if since <= v:
                products_rows.append([rid, pid, role, batch, c.cls])
        for event, onset, since in c.events:
            if since <= v:
                events_rows.append([rid, event, onset.isoformat() if onset else ""])
    for line, kind in BAD_PRODUCTS:
        at = line - 2
        if kind.startswith("unknown_report:"):
            rid = kind.split(":", 1)[1]
            bad = [rid, "D001", "suspect", "B250315", "drug"]
        else:
            prev = products_rows[at - 1]
            pid = {"drug": "D018", "device": "M004", "cosmetic": "K005"}[prev[4]]
            bad = [prev[0], pid, "primary", "", prev[4]]
        products_rows.insert(at, bad)
    for line, kind in BAD_EVENTS:
        at = line - 2
        if kind.startswith("unknown_report:"):
            bad = [kind.split(":", 1)[1], "Rash", ""]
        else:
            bad = [events_rows[at - 1][0], "", ""]
        events_rows.insert(at, bad)

    # Planted clusters, appended last: report_id continues its year's sequence and case_id
    # the case numbering, so neither collides with an earlier row.
    n_cases = len(case_ids)
    clusters = []
    for cl in PLANTED_CLUSTERS:
        pid, cls = cl["product"], PRODUCT_CLASS[cl["product"]]
        ids = []
        for received, region, sentinel, serious, sex, age, back, evs, con in cl["cases"]:
            day = dt.date.fromisoformat(received)
            seq[day.year] += 1
            rid = "R%d-%06d" % (day.year, seq[day.year])
            n_cases += 1
            cid = "C%06d" % n_cases
            ids.append((rid, cid))
            reports.append({
                "report_id": rid, "case_id": cid, "version": "1", "received_date": received,
                "class": cls, "region": region, "reporter_type": "medical_institution",
                "sentinel": fmt_bool(sentinel, "tf"), "is_new": fmt_bool(False, "tf"),
                "is_serious": fmt_bool(serious, "tf"), "fatal": fmt_bool(False, "tf"),
                "sex": sex, "age_years": fmt_age(float(age)),
            })
            products_rows.append([rid, pid, "suspect", cl["batch"], cls])
            for other in con:
                products_rows.append([rid, other, "concomitant", "", cls])
            onset = "" if back is None else (day - dt.timedelta(days=back)).isoformat()
            for e in evs:
                events_rows.append([rid, e, onset])
        clusters.append((cl, ids))

    meta = {"ator": ator, "dup_source_line": dup_source_line, "cases": cases,
            "clusters": clusters}
    return reports, [r[:4] for r in products_rows], events_rows, meta


def populations_rows():
    prov = [  # region, name, 2020 census, 2023 year-end, 2024 year-end
        ("140000", "山西省", 34915616, 34659900, 34459600),
        ("310000", "上海市", 24870895, 24874500, 24802600),
        ("330000", "浙江省", 64567588, 66270000, 66700000),
        ("370000", "山东省", 101527453, 101229700, 100801700),
    ]
    zj_2023_wan = {"330100": 1252.2, "330200": 969.7, "330300": 976.1, "330400": 558.4,
                   "330500": 343.9, "330600": 539.4, "330700": 716.3, "330900": 117.3}
    out = []
    for code, name, p20, p23, p24 in prov:
        out += [(code, 2020, p20, name), (code, 2023, p23, name), (code, 2024, p24, name)]
    for code, name, p20 in ZHEJIANG:
        out.append((code, 2020, p20, name))
        if code in zj_2023_wan:
            out.append((code, 2023, int(round(zj_2023_wan[code] * 10000)), name))
        if code == "330100":
            out.append((code, 2024, 12624000, name))
    for code, name, p20 in SHANXI:
        out.append((code, 2020, p20, name))
        if code == "140700":
            out.append((code, 2024, 3338533, name))  # 晋中 2024 year-end, no 2023 figure
    out.sort(key=lambda r: (r[0], r[1]))
    return [[r[0], str(r[1]), str(r[2]), r[3]] for r in out]


def write_csv(name, header, rows):
    with open(OUT / name, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for r in rows:
            w.writerow(r)


REPORT_COLS = ["report_id", "case_id", "version", "received_date", "class", "region",
               "reporter_type", "sentinel", "is_new", "is_serious", "fatal", "sex", "age_years"]


def main():
    rng = Rng(SEED)
    reports, products_rows, events_rows, meta = build(rng)
    write_csv("reports.csv", REPORT_COLS, [[r[k] for k in REPORT_COLS] for r in reports])
    write_csv("report_products.csv", ["report_id", "product_id", "role", "batch"], products_rows)
    write_csv("report_events.csv", ["report_id", "event", "onset_date"], events_rows)
    write_csv("products.csv",
              ["product_id", "name", "class", "innovative", "conditional", "procured",
               "approval_date", "holder"],
              [[p[0], p[1], p[2], fmt_bool(bool(p[3]), "tf"), fmt_bool(bool(p[4]), "tf"),
                fmt_bool(bool(p[5]), "tf"), p[6], p[7]] for p in PRODUCTS])
    write_csv("populations.csv", ["region", "year", "population", "name"], populations_rows())
    used = sorted({r[1] for r in events_rows if r[1]})
    write_csv("event_terms.csv", ["event", "soc"], [[e, EVENT_SOC[e]] for e in used])
    verify(meta)


# ---------------------------------------------------------------------------
# Read back, check, summarise
# ---------------------------------------------------------------------------
def read(name):
    raw = (OUT / name).read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf"), name + ": BOM"
    assert b"\r" not in raw, name + ": CR in file"
    with open(OUT / name, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def as_bool(s):
    return {"true": True, "1": True, "yes": True, "是": True,
            "false": False, "0": False, "no": False, "否": False, "": None}.get(s, "bad")


def verify(meta):
    problems = []

    def check(ok, msg):
        if not ok:
            problems.append(msg)

    rh, reports = read("reports.csv")
    ph, prods = read("report_products.csv")
    eh, events = read("report_events.csv")
    _, registry = read("products.csv")
    _, pops = read("populations.csv")
    _, terms = read("event_terms.csv")
    col = {n: i for i, n in enumerate(rh)}

    # Planted bad rows are where the README says.
    dup_id = None
    for line, c, value in BAD_REPORTS:
        r = reports[line - 2]
        if c == "report_id":
            dup_id = r[0]
            check(reports[meta["dup_source_line"] - 2][0] == dup_id, "duplicate source")
            value = dup_id
        check(r[col[c]] == value, "reports line %d: %s=%r" % (line, c, r[col[c]]))
    for line, kind in BAD_PRODUCTS:
        r = prods[line - 2]
        check((r[0] == kind.split(":")[1]) if kind.startswith("unknown") else r[2] == "primary",
              "report_products line %d" % line)
    for line, kind in BAD_EVENTS:
        r = events[line - 2]
        check((r[0] == kind.split(":")[1]) if kind.startswith("unknown") else r[1] == "",
              "report_events line %d" % line)

    bad_report_lines = {line for line, _, _ in BAD_REPORTS}
    bad_ids = set()
    seen = {}
    for i, r in enumerate(reports):
        line = i + 2
        if r[0] in seen:
            check(line == BAD_REPORTS[4][0], "unplanned duplicate report_id at line %d" % line)
        seen.setdefault(r[0], line)
        if line in bad_report_lines and line != BAD_REPORTS[4][0]:
            bad_ids.add(r[0])
        # Field validity outside the planted lines.
        if line in bad_report_lines:
            continue
        try:
            dt.date.fromisoformat(r[col["received_date"]])
        except ValueError:
            check(False, "date at line %d" % line)
        check(r[col["class"]] in ("drug", "device", "cosmetic"), "class at %d" % line)
        check(len(r[col["region"]]) == 6 and r[col["region"]].isdigit(), "region at %d" % line)
        for b in ("sentinel", "is_new", "is_serious", "fatal"):
            check(as_bool(r[col[b]]) != "bad", "%s at line %d" % (b, line))
        check(not (as_bool(r[col["fatal"]]) and not as_bool(r[col["is_serious"]])),
              "fatal without serious at line %d" % line)
        a = r[col["age_years"]]
        check(a == "" or float(a) >= 0, "age at line %d" % line)
    report_ids = set(seen)

    # Referential integrity.
    orphan_p = [i + 2 for i, r in enumerate(prods) if r[0] not in report_ids]
    orphan_e = [i + 2 for i, r in enumerate(events) if r[0] not in report_ids]
    check(orphan_p == [l for l, k in BAD_PRODUCTS if k.startswith("unknown")], "orphan products")
    check(orphan_e == [l for l, k in BAD_EVENTS if k.startswith("unknown")], "orphan events")
    check(not any(r[0] in bad_ids for r in prods + events), "rejected report has child rows")
    with_products = {r[0] for r in prods}
    with_events = {r[0] for r in events}
    missing = [r[0] for i, r in enumerate(reports) if i + 2 not in bad_report_lines
               and (r[0] not in with_products or r[0] not in with_events)]
    check(not missing, "reports without products/events: %s" % missing[:5])

    # Versions consecutive from 1; class and region constant within a case.
    by_case = {}
    for i, r in enumerate(reports):
        if i + 2 in bad_report_lines:
            continue
        by_case.setdefault(r[1], []).append(r)
    for cid in sorted(by_case):
        vs = by_case[cid]
        check([int(r[2]) for r in vs] == list(range(1, len(vs) + 1)), "versions of " + cid)
        check(len({(r[col["class"]], r[col["region"]]) for r in vs}) == 1, "class/region " + cid)
        for a, b in zip(vs, vs[1:]):
            gap = (dt.date.fromisoformat(b[3]) - dt.date.fromisoformat(a[3])).days
            check(5 <= gap <= 60, "follow-up gap %d in %s" % (gap, cid))

    # Product class matches the report's class; roles valid.
    registry_class = {r[0]: r[2] for r in registry}
    rclass = {r[0]: r[col["class"]] for r in reports}
    unknown = 0
    for i, r in enumerate(prods):
        line = i + 2
        if r[0] not in rclass:
            continue
        if r[1] in registry_class:
            check(registry_class[r[1]] == rclass[r[0]], "product class at line %d" % line)
        else:
            unknown += 1
        if line not in [l for l, _ in BAD_PRODUCTS]:
            check(r[2] in ("", "suspect", "concomitant", "interacting"), "role at %d" % line)
    used_events = sorted({r[1] for r in events if r[1]})
    check(used_events == [t[0] for t in terms], "event_terms differs from events used")

    # Onset on or before receipt.
    rdate = {r[0]: r[3] for i, r in enumerate(reports) if i + 2 not in bad_report_lines}
    for i, r in enumerate(events):
        if r[2] and r[0] in rdate:
            check(r[2] <= rdate[r[0]], "onset after receipt at line %d" % (i + 2))

    # Planted clusters: the last rows of each file, from CLUSTER_FIRST_LINES on, exactly as
    # PLANTED_CLUSTERS describes them.
    at = {"reports.csv": CLUSTER_FIRST_LINES["reports.csv"] - 2,
          "report_products.csv": CLUSTER_FIRST_LINES["report_products.csv"] - 2,
          "report_events.csv": CLUSTER_FIRST_LINES["report_events.csv"] - 2}
    earlier_ids = [r[0] for r in reports[:at["reports.csv"]]]
    earlier_cases = [r[1] for r in reports[:at["reports.csv"]]]
    planted_case = {}  # case_id -> cluster tag
    cluster_lines = {}  # tag -> {file: (first line, last line)}
    expected_clusters = {}
    for cl, ids in meta["clusters"]:
        cls = PRODUCT_CLASS[cl["product"]]
        start = {name: i + 2 for name, i in at.items()}
        members = []
        for spec, (rid, cid) in zip(cl["cases"], ids):
            received, region, sentinel, serious, sex, age, back, evs, con = spec
            r = reports[at["reports.csv"]] if at["reports.csv"] < len(reports) else [""] * 13
            at["reports.csv"] += 1
            want = [rid, cid, "1", received, cls, region, "medical_institution",
                    fmt_bool(sentinel, "tf"), "false", fmt_bool(serious, "tf"), "false", sex,
                    fmt_age(float(age))]
            check(r == want, "planted cluster report %s: %r" % (rid, r))
            year = received[:4]
            check(rid.startswith("R%s-" % year) and all(
                rid > e for e in earlier_ids if e.startswith("R%s-" % year)),
                "planted report_id %s does not continue its year's sequence" % rid)
            check(all(cid > e for e in earlier_cases), "planted case_id %s reused" % cid)
            check(len(by_case.get(cid, [])) == 1, "planted case %s is not one version" % cid)
            planted_case[cid] = cl["tag"]
            members.append((dt.date.fromisoformat(received), cid))
            want_p = [[rid, cl["product"], "suspect", cl["batch"]]] + [
                [rid, o, "concomitant", ""] for o in con]
            for w in want_p:
                i = at["report_products.csv"]
                check(i < len(prods) and prods[i] == w, "planted product row for %s" % rid)
                at["report_products.csv"] += 1
            onset = "" if back is None else (
                dt.date.fromisoformat(received) - dt.timedelta(days=back)).isoformat()
            for e in evs:
                i = at["report_events.csv"]
                check(i < len(events) and events[i] == [rid, e, onset],
                      "planted event row for %s" % rid)
                at["report_events.csv"] += 1
        members.sort()
        cluster_lines[cl["tag"]] = {name: (start[name], i + 1) for name, i in at.items()}
        expected_clusters[(cls, cl["product"], cl["batch"])] = (
            len(members), [m[1] for m in members], members[0][0], members[-1][0])
    check(at == {"reports.csv": len(reports), "report_products.csv": len(prods),
                 "report_events.csv": len(events)}, "planted clusters do not end the files")

    # The cluster search as pvwatch runs it: cases (latest version, class of the case) whose
    # product is suspect or interacting (an empty role counts as suspect) with a batch,
    # grouped by class, product and batch; a group's best window of CLUSTER_WINDOW_DAYS days
    # by first receipt. Only the planted clusters may reach CLUSTER_MIN_CASES.
    first_rec = {cid: min(dt.date.fromisoformat(r[3]) for r in vs) for cid, vs in by_case.items()}
    case_of_latest = {vs[-1][0]: cid for cid, vs in by_case.items()}
    batch_groups = {}
    for r in prods:
        cid = case_of_latest.get(r[0])
        if cid and r[2] in ("", "suspect", "interacting") and r[3]:
            key = (by_case[cid][-1][col["class"]], r[1], r[3])
            batch_groups.setdefault(key, set()).add(cid)
    found_clusters = {}
    for key in sorted(batch_groups):
        hits = sorted((first_rec[c], c) for c in batch_groups[key])
        best = None
        for i in range(len(hits)):
            j = i
            while j + 1 < len(hits) and (hits[j + 1][0] - hits[i][0]).days <= CLUSTER_WINDOW_DAYS - 1:
                j += 1
            if best is None or j - i > best[1] - best[0]:
                best = (i, j)
        i, j = best
        if j - i + 1 >= CLUSTER_MIN_CASES:
            found_clusters[key] = (j - i + 1, [h[1] for h in hits[i:j + 1]], hits[i][0], hits[j][0])
    check(found_clusters == expected_clusters, "batch clusters: %r" % found_clusters)
    # Stronger, any role and any version: apart from two cases of the same planted cluster,
    # no two cases first received within 60 days of each other share a product and batch.
    case_of_any = {}
    for cid, vs in by_case.items():
        for r in vs:
            case_of_any.setdefault(r[0], cid)
    any_groups = {}
    for r in prods:
        if r[3] and r[0] in case_of_any:
            any_groups.setdefault((r[1], r[3]), set()).add(case_of_any[r[0]])
    near_pairs = []
    for key in sorted(any_groups):
        hits = sorted((first_rec[c], c) for c in any_groups[key])
        for (d1, c1), (d2, c2) in zip(hits, hits[1:]):
            if (d2 - d1).days <= 60 and not (
                    c1 in planted_case and planted_case[c1] == planted_case.get(c2)):
                near_pairs.append((key, c1, c2))
    check(not near_pairs, "product + batch shared within 60 days: %r" % near_pairs[:5])

    # Reject fractions (< 0.5% of each table), in the worst case: a reader that rejects
    # both rows sharing the duplicate report_id also orphans the first one's child rows.
    dup_children_p = sum(1 for r in prods if r[0] == dup_id)
    dup_children_e = sum(1 for r in events if r[0] == dup_id)
    n_rej = {"reports.csv": (len(BAD_REPORTS), len(BAD_REPORTS) + 1),
             "report_products.csv": (len(BAD_PRODUCTS), len(BAD_PRODUCTS) + dup_children_p),
             "report_events.csv": (len(BAD_EVENTS), len(BAD_EVENTS) + dup_children_e)}
    sizes = {"reports.csv": len(reports), "report_products.csv": len(prods),
             "report_events.csv": len(events)}
    for name in n_rej:
        check(n_rej[name][1] / sizes[name] < 0.005, "rejects too many in " + name)

    # ---- Summary over the latest version of each case -------------------------------
    latest = {}
    for cid in by_case:
        latest[cid] = by_case[cid][-1]
    print("rows: reports %d, report_products %d, report_events %d, products %d, "
          "populations %d, event_terms %d" % (len(reports), len(prods), len(events),
                                              len(registry), len(pops), len(terms)))
    print("cases (good): %d; versions: v1 %d, v2 %d, v3 %d" % (
        len(by_case), sum(1 for v in by_case.values() if len(v) >= 1),
        sum(1 for v in by_case.values() if len(v) >= 2),
        sum(1 for v in by_case.values() if len(v) >= 3)))
    cross = sum(1 for v in by_case.values() if v[0][3][:4] != v[-1][3][:4])
    print("cases whose follow-up crosses into the next year: %d" % cross)
    print("cases by class and year of the latest version's received_date:")
    tally = {}
    for r in latest.values():
        k = (r[col["class"]], r[3][:4])
        tally[k] = tally.get(k, 0) + 1
    for k in sorted(tally):
        print("  %-8s %s %5d" % (k[0], k[1], tally[k]))
    prov_tally = {}
    for r in latest.values():
        prov_tally[r[col["region"]][:2]] = prov_tally.get(r[col["region"]][:2], 0) + 1
    print("cases by province:", ", ".join("%s0000 %d" % (p, prov_tally[p])
                                          for p in sorted(prov_tally)))
    n = len(latest)

    def share(pred, rows):
        rows = list(rows)
        return 100.0 * sum(1 for r in rows if pred(r)) / max(1, len(rows)), len(rows)

    ser = lambda r: as_bool(r[col["is_serious"]]) is True
    new = lambda r: as_bool(r[col["is_new"]]) is True
    print("latest versions: serious %.1f%%, new %.1f%%, new-or-serious %.1f%%, fatal %.2f%%" % (
        share(ser, latest.values())[0], share(new, latest.values())[0],
        share(lambda r: ser(r) or new(r), latest.values())[0],
        share(lambda r: as_bool(r[col["fatal"]]) is True, latest.values())[0]))
    print("sentinel drug reports (latest versions): province year  n  new-or-serious serious")
    for p in ("31", "33", "37", "14"):
        for y in ("2024", "2025"):
            rows = [r for r in latest.values() if r[col["region"]][:2] == p and r[3][:4] == y
                    and r[col["class"]] == "drug" and as_bool(r[col["sentinel"]]) is True]
            print("  %s0000 %s %4d  %5.1f%%  %5.1f%%" % (
                p, y, len(rows), share(lambda r: ser(r) or new(r), rows)[0], share(ser, rows)[0]))
    rt = {}
    for r in latest.values():
        rt[r[col["reporter_type"]]] = rt.get(r[col["reporter_type"]], 0) + 1
    print("reporter_type:", ", ".join("%s %.1f%%" % (k or "(empty)", 100.0 * rt[k] / n)
                                      for k in sorted(rt)))
    forms = {}
    for r in reports:
        for b in ("sentinel", "is_new", "is_serious", "fatal"):
            v = r[col[b]]
            forms[v] = forms.get(v, 0) + 1
    print("boolean spellings (cells):", ", ".join("%r %d" % (k, forms[k]) for k in sorted(forms)))
    alt_rows = sum(1 for r in reports if any(r[col[b]] in ("1", "0", "yes", "no", "是", "否")
                                             for b in ("sentinel", "is_new", "is_serious", "fatal")))
    print("report rows using 1/0, yes/no or 是/否: %d" % alt_rows)
    print("report_products rows naming an unknown product: %d (%.2f%%)" % (
        unknown, 100.0 * unknown / len(prods)))

    # Planted signals, counted the way pvwatch counts: latest version, suspect/interacting.
    latest_ids = {r[0] for r in latest.values()}
    case_of = {r[0]: r[1] for r in latest.values()}
    cls_of = {r[0]: r[col["class"]] for r in latest.values()}
    prod_cases, event_cases = {}, {}
    for r in prods:
        if r[0] in latest_ids and r[2] in ("", "suspect", "interacting"):
            prod_cases.setdefault(r[1], set()).add(case_of[r[0]])
    for r in events:
        if r[0] in latest_ids and r[1]:
            event_cases.setdefault(r[1], set()).add(case_of[r[0]])

    def two_by_two(pid, ev):
        cls = registry_class[pid]
        N = sum(1 for rid in latest_ids if cls_of[rid] == cls)
        pc, ec = prod_cases.get(pid, set()), event_cases.get(ev, set())
        ec = {c for c in ec if cls_of[latest[c][0]] == cls}
        a = len(pc & ec)
        b, c = len(pc) - a, len(ec) - a
        d = N - a - b - c
        prr = (a / (a + b)) / (c / (c + d)) if c else float("inf")
        return a, b, c, d, prr

    print("planted pairs (cases, latest versions, class background):")
    for pid, ev in (("D008", "Myocarditis"), ("D008", "Immune-mediated hepatitis"),
                    ("M001", "Thrombosis"), ("D005", "Headache")):
        a, b, c, d, prr = two_by_two(pid, ev)
        print("  %s %-26s a=%3d b=%4d c=%4d d=%5d PRR=%.2f" % (pid, ev, a, b, c, d, prr))
    k, n_ator, rate = meta["ator"]
    print("atorvastatin headache assigned to %d of %d suspect cases (background %.2f%%)" % (
        k, n_ator, 100 * rate))
    print("duplicate report_id %s: line %d reuses line %d (%d product, %d event rows)" % (
        dup_id, BAD_REPORTS[4][0], meta["dup_source_line"], dup_children_p, dup_children_e))
    for name in n_rej:
        lo, hi = n_rej[name]
        print("planted rejects in %s: %d of %d rows (%.3f%%); %d (%.3f%%) if both duplicate "
              "rows are rejected" % (name, lo, sizes[name], 100.0 * lo / sizes[name], hi,
                                     100.0 * hi / sizes[name]))
    print("planted batch clusters (>= %d cases within %d days; no other product + batch has one):"
          % (CLUSTER_MIN_CASES, CLUSTER_WINDOW_DAYS))
    for cl, ids in meta["clusters"]:
        key = (PRODUCT_CLASS[cl["product"]], cl["product"], cl["batch"])
        n, cids, d1, d2 = found_clusters.get(key, (0, [], None, None))
        lines = cluster_lines[cl["tag"]]
        print("  %s %s %s: %d cases %s..%s (%s); lines %s" % (
            key[0], key[1], key[2], n, d1, d2, ", ".join(cids),
            ", ".join("%s %d-%d" % (f, a, b) for f, (a, b) in lines.items())))
    for name in ("reports.csv", "report_products.csv", "report_events.csv", "products.csv",
                 "populations.csv", "event_terms.csv"):
        data = (OUT / name).read_bytes()
        print("  %-20s %8d bytes  sha256 %s" % (name, len(data), hashlib.sha256(data).hexdigest()))
    if problems:
        print("PROBLEMS:", *problems[:30], sep="\n  ")
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
