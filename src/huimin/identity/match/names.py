"""Names as the matcher compares them: variant characters folded, then pinyin without tones.

Homophones (王/汪, 伟/玮, 丽/莉) share a toneless pinyin, so the pinyin key catches them;
traditional and variant forms (華/华, 偉/伟) are first folded to the simplified character by
``VARIANTS`` below, so an exact comparison of the folded name already agrees. Pinyin is taken
character by character (one cached look-up per distinct character): a polyphonic character
(曾 zeng/ceng) gets one reading everywhere, which is what a comparison needs — the same
character always gives the same key.
"""

from __future__ import annotations

from functools import lru_cache

#: traditional or variant form → the simplified character the register uses (the common
#: characters of names; extend by appending)
VARIANTS: dict[str, str] = {
    "華": "华", "偉": "伟", "張": "张", "陳": "陈", "劉": "刘", "黃": "黄", "趙": "赵",
    "吳": "吴", "鄭": "郑", "楊": "杨", "麗": "丽", "紅": "红", "國": "国", "東": "东",
    "蘭": "兰", "鳳": "凤", "龍": "龙", "鵬": "鹏", "軍": "军", "強": "强", "傑": "杰",
    "靜": "静", "輝": "辉", "嬌": "娇", "濤": "涛", "濱": "滨", "貴": "贵", "瑩": "莹",
    "葉": "叶", "許": "许", "馮": "冯", "蔣": "蒋", "謝": "谢", "羅": "罗",
    "鄧": "邓", "韓": "韩", "孫": "孙", "馬": "马", "錢": "钱", "衛": "卫", "蕭": "萧",
    "嶽": "岳", "潔": "洁", "豔": "艳", "艷": "艳", "寶": "宝", "曉": "晓", "雲": "云",
    "進": "进", "剛": "刚", "義": "义", "雙": "双",
    "峯": "峰", "綫": "线", "濟": "济", "鳴": "鸣",
}


def fold(name: str) -> str:
    """The name trimmed, inner blanks and middle dots removed, variant characters folded."""
    text = "".join(ch for ch in name.strip() if not ch.isspace() and ch not in "·・.")
    return "".join(VARIANTS.get(ch, ch) for ch in text)


@lru_cache(maxsize=65536)
def char_pinyin(ch: str) -> str:
    """The toneless pinyin of one character (itself, lower-cased, if it has none)."""
    from pypinyin import Style, lazy_pinyin

    out = lazy_pinyin(ch, style=Style.NORMAL, errors="default")
    return (out[0] if out else ch).lower()


def pinyin(name: str) -> str:
    """The folded name as toneless pinyin syllables joined by single spaces."""
    return " ".join(char_pinyin(ch) for ch in fold(name))
