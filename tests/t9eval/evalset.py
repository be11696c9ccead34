"""The T9 quality evaluation set: hand-written gold names, 10,000 seeded distractor contacts,
and the queries a user would type for each gold name, with the contact meant.

Nothing here calls romforge: readings come from names.tsv (written by hand) and from the
distractor pools below (each character's reading written by hand, pools limited to
characters with one reading), and digits come from this module's own copy of the ITU E.161
letters. benchmarks/t9_quality.py and tests/test_t9_quality.py score romforge against it.

Query kinds, each typed the way users do on a 9-key dialer:
  full              every syllable in full                      zhang san feng → zhangsanfeng
  given             the given name alone, in full               → sanfeng
  surname+initials  the surname in full, the given name's initials  → zhangsf
  initials          every syllable's initial                    → zsf
  mixed             names mixing Latin and Han: every word in full, or the words of the first
                    script in full and the rest by initials (tonyz for Tony张, zhangweit for 张伟 Tony)
A query is kept only when it is fair for the top three: at most three contacts (the meant
one included) have a natural typing (any of the kinds above) whose digits equal the query.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
NAMES_TSV = HERE / "names.tsv"
CONTACTS = 10_000
SEED = 20_260_518
FAIR_TOP = 3
KINDS = ("full", "given", "surname+initials", "initials", "mixed")
_KEYS = {"2": "abc", "3": "def", "4": "ghi", "5": "jkl", "6": "mno", "7": "pqrs", "8": "tuv", "9": "wxyz"}
DIGIT = {letter: digit for digit, letters in _KEYS.items() for letter in letters}


def digits(word: str) -> str:
    return "".join(DIGIT[ch] for ch in word)


@dataclass(frozen=True)
class Gold:
    """One contact with its hand-written reading: words (syllables or Latin words) and where the given name starts."""

    name: str
    words: tuple[str, ...]
    given: int | None  # index of the first word after the surname, None when the name has no surname first
    latin: tuple[bool, ...]  # per word: a Latin word (not a Han syllable)
    category: str = "distractor"
    split: str = ""

    @property
    def reading(self) -> str:
        return " ".join(self.words)

    @property
    def mixed(self) -> bool:
        return any(self.latin) and not all(self.latin)

    def typings(self) -> dict[str, set[str]]:
        """kind → the digits of each natural way to type this contact completely."""
        out: dict[str, set[str]] = {k: set() for k in KINDS}
        for kind, typed, _, _ in self.natural():
            if kind in out:
                out[kind].add(typed)
        return out

    def natural(self) -> list[tuple[str, str, int, int]]:
        """(kind, digits, pattern, skipped words) of each natural complete typing. Pattern, as the
        ranking rules count it: 0 whole words, 1 whole words then initials from a word start on,
        2 whole then initials inside a word, 3 initials, 4 any other mix. Skipped words: the words
        before the start (the surname counts once, however many syllables it has)."""
        full = [digits(w) for w in self.words]
        n = len(full)
        starts = {i for i in range(1, n) if self.latin[i] or self.latin[i] != self.latin[i - 1]}
        if self.given:
            starts.add(self.given)
        out = []

        def add(kind: str, start: int, whole: list[bool]) -> None:
            typed = "".join(f if w else f[0] for f, w in zip(full[start:], whole))
            marks = [("F" if w else "I") if len(f) > 1 else "-" for f, w in zip(full[start:], whole)]
            if "I" not in marks:
                pattern = 0
            elif "F" not in marks:
                pattern = 3
            elif "F" in marks[marks.index("I"):]:
                pattern = 4
            else:
                pattern = 1 if start + marks.index("I") in starts else 2
            out.append((kind, typed, pattern, sum(1 for s in starts | {0} if s < start)))

        if self.mixed:  # every word in full, or the words in full up to a change of script and initials after
            add("mixed", 0, [True] * n)
            for whole in (list(self.latin), [not lat for lat in self.latin]):
                if whole[0] and not all(whole):
                    add("mixed", 0, whole)
            add("initials", 0, [False] * n)
            for start in sorted(starts):  # the words after a change of script, typed alone ("word": no queries)
                add("word", start, [True] * (n - start))
            return out
        add("full", 0, [True] * n)
        add("initials", 0, [False] * n)
        g = self.given
        if g is not None and 0 < g < n:
            add("given", g, [True] * (n - g))
            add("surname+initials", 0, [True] * g + [False] * (n - g))
        return out


def _parse_reading(name: str, reading: str) -> tuple[tuple[str, ...], int | None, tuple[bool, ...]]:
    head, sep, tail = reading.partition(" / ")
    words = tuple(head.split()) + tuple(tail.split())
    given = len(head.split()) if sep else None
    latin_words = {w.lower() for w in "".join(ch if ch.isascii() and ch.isalpha() else " " for ch in name).split()}
    return words, given, tuple(w in latin_words for w in words)


def load_gold(path: Path = NAMES_TSV) -> list[Gold]:
    """names.tsv; within each category the lines alternate dev, test, dev, test …"""
    out, seen = [], {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        category, name, reading = line.split("\t")
        words, given, latin = _parse_reading(name, reading)
        if not all(w.isascii() and w.isalpha() and w.islower() for w in words):
            raise ValueError(f"{path.name}:{number}: {reading!r} is not lowercase letters")
        index = seen.get(category, 0)
        seen[category] = index + 1
        out.append(Gold(name, words, given, latin, category, "dev" if index % 2 == 0 else "test"))
    return out


# ---- distractors: a seeded address book ------------------------------------------------
# Readings written by hand; every character here has this one reading in names.

SURNAMES = [(s, r) for s, r in (pair.split(":") for pair in (
    "王:wang 李:li 张:zhang 刘:liu 陈:chen 杨:yang 黄:huang 赵:zhao 吴:wu 周:zhou 徐:xu 孙:sun 马:ma 朱:zhu "
    "胡:hu 郭:guo 何:he 林:lin 罗:luo 高:gao 郑:zheng 梁:liang 谢:xie 宋:song 唐:tang 许:xu 韩:han 冯:feng "
    "邓:deng 曹:cao 彭:peng 田:tian 董:dong 袁:yuan 潘:pan 蒋:jiang 蔡:cai 余:yu 杜:du 程:cheng 苏:su "
    "魏:wei 吕:lv 丁:ding 姚:yao 卢:lu 姜:jiang 崔:cui 钟:zhong 谭:tan 陆:lu 汪:wang 范:fan 金:jin 廖:liao "
    "夏:xia 韦:wei 付:fu 方:fang 白:bai 邹:zou 孟:meng 熊:xiong 秦:qin 邱:qiu 江:jiang 尹:yin 薛:xue "
    "闫:yan 段:duan 雷:lei 侯:hou 龙:long 史:shi 陶:tao 黎:li 贺:he 顾:gu 毛:mao 郝:hao 龚:gong 邵:shao "
    "万:wan 钱:qian 严:yan 武:wu 戴:dai 莫:mo 孔:kong 向:xiang 汤:tang").split())]
_WEIGHTS = [9, 9, 9, 7, 7, 5, 5, 5, 5, 4] + [2.5] * 20 + [1.2] * 30 + [0.7] * 100
GIVEN = [(s, r) for s, r in (pair.split(":") for pair in (
    "伟:wei 芳:fang 娜:na 敏:min 静:jing 丽:li 磊:lei 军:jun 洋:yang 勇:yong 艳:yan 杰:jie 娟:juan 涛:tao "
    "明:ming 超:chao 秀:xiu 霞:xia 平:ping 刚:gang 桂:gui 英:ying 玉:yu 兰:lan 建:jian 国:guo 红:hong 梅:mei "
    "文:wen 辉:hui 鑫:xin 宇:yu 浩:hao 然:ran 子:zi 轩:xuan 欣:xin 怡:yi 佳:jia 琪:qi 思:si 雨:yu 晨:chen "
    "阳:yang 博:bo 涵:han 一:yi 诺:nuo 俊:jun 婷:ting 雪:xue 志:zhi 新:xin 海:hai 波:bo 斌:bin 宁:ning "
    "凯:kai 峰:feng 琳:lin 丹:dan 萍:ping 亮:liang 成:cheng 飞:fei 鹏:peng 龙:long 翔:xiang 宏:hong "
    "春:chun 金:jin 凤:feng 彬:bin 慧:hui 颖:ying 婉:wan 晓:xiao 莉:li 倩:qian 雯:wen 萌:meng 瑶:yao "
    "璐:lu 蕾:lei 薇:wei 欢:huan 毅:yi 伦:lun 彤:tong 晶:jing 妍:yan 茹:ru 悦:yue 昊:hao 睿:rui 泽:ze "
    "铭:ming 瑞:rui 宸:chen 皓:hao 奕:yi 逸:yi 骏:jun 旭:xu 东:dong 南:nan 山:shan 川:chuan 江:jiang "
    "松:song 菊:ju 荣:rong 福:fu 贵:gui 德:de 仁:ren 义:yi 智:zhi 信:xin 忠:zhong 安:an 康:kang 泰:tai "
    "永:yong 庆:qing 祥:xiang 瑜:yu 琦:qi 珊:shan 琴:qin 月:yue 星:xing 天:tian 云:yun 光:guang 辰:chen "
    "昌:chang 达:da 友:you 民:min 生:sheng 根:gen 水:shui 秋:qiu 冬:dong 玲:ling 芬:fen 鸿:hong 嘉:jia "
    "豪:hao 健:jian 坤:kun 岩:yan 森:sen 晴:qing 朗:lang 帆:fan 舟:zhou 韬:tao 蓉:rong 芸:yun 菲:fei "
    "莹:ying 媛:yuan 婧:jing 妮:ni 宝:bao 珍:zhen 珠:zhu 凡:fan 楠:nan 桐:tong 梓:zi 芝:zhi 琼:qiong "
    "卫:wei 彪:biao 虎:hu 鹰:ying 鹤:he 鸣:ming 兵:bing 爽:shuang 腾:teng 鹃:juan 燕:yan").split())]
TITLES = [tuple(t.replace("-", " ").split(":")) for t in (
    "总:zong 老师:lao-shi 经理:jing-li 医生:yi-sheng 师傅:shi-fu 主任:zhu-ren 老板:lao-ban 律师:lv-shi "
    "总监:zong-jian 阿姨:a-yi 哥:ge 姐:jie 叔:shu 先生:xian-sheng 女士:nv-shi 局长:ju-zhang 校长:xiao-zhang").split()]
PREFIXES = [("老", "lao"), ("小", "xiao")]
COMPOUNDS = [tuple(t.replace("-", " ").split(":")) for t in (
    "欧阳:ou-yang 司马:si-ma 诸葛:zhu-ge 上官:shang-guan 东方:dong-fang 慕容:mu-rong 皇甫:huang-fu "
    "令狐:ling-hu 夏侯:xia-hou 公孙:gong-sun 司徒:si-tu 端木:duan-mu").split()]
LATIN_FIRST = ("Jack Mary Tony Lily David Anna Kevin Grace Peter Linda Mike Susan Tom Helen James Amy Eric "
               "Kelly Sam Nina Alex Emma Leo Zoe Ryan Chloe Ben Ivy Max Ella Dan Joy").split()
LATIN_LAST = "Smith Brown Lee Wong Chan Johnson Miller Davis Garcia Wilson Taylor Clark Lewis Walker".split()


def _han(parts: list[tuple[str, str]], given: int | None) -> tuple[str, tuple[str, ...], int | None]:
    name = "".join(p for p, _ in parts)
    words: list[str] = []
    start = None
    for k, (_, r) in enumerate(parts):
        if given is not None and k == given:
            start = len(words)
        words += r.split()
    return name, tuple(words), start


def distractors(count: int = CONTACTS, seed: int = SEED, avoid: set[str] = frozenset()) -> list[Gold]:
    """A reproducible address book: mostly surname + one or two given characters, some titles,
    familiar prefixes, compound surnames, Latin and mixed names; names unique."""
    rng = random.Random(seed)
    weights = _WEIGHTS[:len(SURNAMES)]
    out: list[Gold] = []
    names = set(avoid)
    while len(out) < count:
        roll = rng.random()
        surname = rng.choices(SURNAMES, weights)[0]
        latin: tuple[bool, ...] | None = None
        if roll < 0.58:
            name, words, given = _han([surname, *rng.sample(GIVEN, 2)], 1)
        elif roll < 0.80:
            name, words, given = _han([surname, rng.choice(GIVEN)], 1)
        elif roll < 0.86:
            name, words, given = _han([surname, rng.choice(TITLES)], 1)
        elif roll < 0.89:
            name, words, given = _han([rng.choice(PREFIXES), surname], 1)
        elif roll < 0.91:
            name, words, given = _han([rng.choice(COMPOUNDS), *rng.sample(GIVEN, rng.choice((1, 2)))], 1)
        elif roll < 0.96:
            first = rng.choice(LATIN_FIRST)
            han, han_words, _ = _han([surname, *rng.sample(GIVEN, rng.choice((0, 1, 2)))], None)
            if rng.random() < 0.5:
                name, words, latin = f"{first} {han}", (first.lower(), *han_words), (True,) + (False,) * len(han_words)
            else:
                name, words, latin = f"{han} {first}", (*han_words, first.lower()), (False,) * len(han_words) + (True,)
            given = None
        else:
            first, last = rng.choice(LATIN_FIRST), rng.choice(LATIN_LAST)
            name, words, given, latin = f"{first} {last}", (first.lower(), last.lower()), 1, (True, True)
        if name in names:
            continue
        names.add(name)
        out.append(Gold(name, words, given, latin or (False,) * len(words)))
    return out


def phone_numbers(count: int, seed: int = SEED) -> list[str]:
    rng = random.Random(seed + 1)
    seen: set[str] = set()
    out = []
    while len(out) < count:
        number = "1" + rng.choice("3589") + "".join(rng.choice("0123456789") for _ in range(9))
        if number not in seen:
            seen.add(number)
            out.append(number)
    return out


@dataclass(frozen=True)
class Query:
    digits: str
    kind: str
    target: Gold
    first_by_rules: bool  # with the hand-written readings, the ranking rules put the target first among the
    # contacts typed by the same digits (complete name; fewer initials, fewer skipped words, then contact order)
    alone_first: bool = False  # ... and no other contact ties with it on every rule before the contact order
    among_best: bool = False  # the rules put it first or tied with the first on every rule: the most any
    # ranker that follows the rules can win, if it were told which of the tied contacts is meant


def address_book(gold: list[Gold], count: int = CONTACTS, seed: int = SEED) -> list[tuple[Gold, str]]:
    """The gold names and `count` distractors, each with a phone number: (contact, number)."""
    people = gold + distractors(count, seed, {g.name for g in gold})
    return list(zip(people, phone_numbers(len(people), seed)))


def queries(gold: list[Gold], book: list[tuple[Gold, str]]) -> tuple[list[Query], int]:
    """Every natural query for each gold name that is fair for the top three; also how many were dropped as unfair."""
    owners: dict[str, dict[str, tuple]] = {}
    for person, number in book:
        for _, typed, pattern, skip in person.natural():
            order = (pattern, skip, person.reading, person.name, number)
            best = owners.setdefault(typed, {})
            if person.name not in best or order < best[person.name]:
                best[person.name] = order
    out, unfair = [], 0
    for g in gold:
        seen: set[str] = set()
        for kind, typed, _, _ in g.natural():
            if typed in seen or len(typed) < 2 or kind not in KINDS or kind == "initials" and g.mixed:
                continue
            seen.add(typed)
            ranked = owners[typed]
            if len(ranked) > FAIR_TOP:
                unfair += 1
                continue
            best = min(ranked, key=ranked.__getitem__)
            tied = {name for name, order in ranked.items() if order[:2] == ranked[best][:2]}
            out.append(Query(typed, kind, g, best == g.name, best == g.name and len(tied) == 1, g.name in tied))
    return out, unfair
