"""Text bytes to str: MIME charset labels, superset codecs, and guessing undeclared 8-bit text.

Every function here is total: bad input degrades to the best readable text plus a note, never
an exception. A note is a short sentence for an operator, e.g. "charset gb2312 read as gb18030".
"""

from __future__ import annotations

import codecs
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from charset_normalizer import from_bytes

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Decoded:
    """Text, the codec that produced it, and a repair worth recording ("" when none)."""

    text: str
    charset: str
    note: str = ""


# Labels read as a superset: mail labelled GB2312 or GBK routinely carries characters only GBK or
# GB18030 has (镕, 䶮, four-byte sequences), and Big5 mail carries HKSCS characters.
CHARSET_ALIASES: Mapping[str, str] = {
    **dict.fromkeys(
        (
            "gb2312",
            "gb-2312",
            "gb-2312-80",
            "csgb2312",
            "chinese",
            "euc-cn",
            "euccn",
            "x-euc-cn",
            "gbk",
            "x-gbk",
            "cp936",
            "ms936",
            "windows-936",
            "936",
            "gb18030",
            "gb-18030",
            "iso-ir-58",
        ),
        "gb18030",
    ),
    **dict.fromkeys(
        (
            "big5",
            "big-5",
            "big5-hkscs",
            "big5hkscs",
            "cn-big5",
            "csbig5",
            "x-x-big5",
            "x-big5",
            "cp950",
            "ms950",
            "windows-950",
        ),
        "big5hkscs",
    ),
    **dict.fromkeys(
        ("shift-jis", "sjis", "x-sjis", "ms-kanji", "csshiftjis", "windows-31j", "cp932"),
        "cp932",
    ),
    **dict.fromkeys(
        (
            "ks-c-5601-1987",
            "ks-c-5601",
            "ks-c-5601-1989",
            "ksc5601",
            "euc-kr",
            "korean",
            "csksc56011987",
            "cp949",
            "windows-949",
            "uhc",
        ),
        "cp949",
    ),
    # Western labels: WHATWG reads all of them as windows-1252, which is what senders meant.
    **dict.fromkeys(
        (
            "us-ascii",
            "ascii",
            "ansi-x3.4-1968",
            "iso-8859-1",
            "iso8859-1",
            "latin1",
            "latin-1",
            "l1",
            "cp1252",
            "windows-1252",
            "x-cp1252",
            "cp819",
        ),
        "cp1252",
    ),
    "iso-8859-8-i": "iso8859_8",
    "iso-8859-8-e": "iso8859_8",
    "iso-8859-6-i": "iso8859_6",
    "x-mac-cyrillic": "mac_cyrillic",
    "x-mac-roman": "mac_roman",
    "iso-2022-jp": "iso2022_jp",
    "csiso2022jp": "iso2022_jp",
    "hz-gb-2312": "hz",
    "tis-620": "cp874",
    "windows-874": "cp874",
    "utf8": "utf-8",
    "x-unicode20utf7": "utf-7",
    "unicode-2-0-utf-7": "utf-7",
    "csunicode11utf7": "utf-7",
    "x-mac-ce": "mac_latin2",
    "unicode-1-1-utf-8": "utf-8",
    "x-unicode20utf8": "utf-8",
}

# Labels that say nothing about the bytes: detect instead.
_MEANINGLESS = frozenset(
    {
        "",
        "unknown",
        "unknown-8bit",
        "x-unknown",
        "default",
        "8bit",
        "7bit",
        "x-user-defined",
        "none",
        "null",
        "undefined",
        "charset",
        "binary",
        "us",
        "iso",
    }
)
# Python codecs that are not charsets at all, or that would turn bytes into anything.
_NOT_CHARSETS = frozenset(
    {
        "unicode_escape",
        "raw_unicode_escape",
        "idna",
        "punycode",
        "undefined",
        "mbcs",
        "oem",
        "palmos",
        "uu_codec",
        "base64_codec",
        "quopri_codec",
        "hex_codec",
        "zlib_codec",
        "bz2_codec",
        "rot_13",
    }
)
# A strict decode failing with the first codec is retried with these before guessing.
_WIDER: Mapping[str, tuple[str, ...]] = {
    "iso2022_jp": ("iso2022_jp_2", "iso2022_jp_ext", "iso2022_jp_2004"),
    "euc_jp": ("euc_jis_2004",),
    "cp932": ("shift_jis_2004",),
    "cp1252": ("latin_1",),
}
# Codecs whose ASCII bytes do not mean ASCII characters (escape sequences, UTF-16 halves).
_STATEFUL_PREFIXES = ("iso2022", "hz", "utf_7", "utf_16", "utf_32")
_WESTERN = frozenset({"cp1252", "latin_1", "ascii"})
_CHINESE = frozenset({"gb18030", "big5hkscs"})
_OTHER_CHINESE: Mapping[str, str] = {"gb18030": "big5hkscs", "big5hkscs": "gb18030"}
# Short texts make charset-normalizer guess wildly (UTF-16 for a Chinese subject); below this
# size only UTF-8, Chinese and windows-1252 are tried.
_MIN_GUESS_BYTES = 48
_GUESS_SAMPLE = 65536
_SCORE_SAMPLE = 4000
_UTF8_THREE_BYTE = re.compile(rb"[\xe0-\xf4]")  # lead bytes of characters from U+0800 up

# A Han character (CJK ideograph): the unified blocks, extension A, the compatibility block and
# the supplementary planes' extensions B and later. The one definition the project uses.
HAN_CLASS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
HAN = re.compile(f"[{HAN_CLASS}]")
# Counting Han characters by their runs: findall with HAN makes one string per character.
HAN_RUN = re.compile(f"[{HAN_CLASS}]+")


def is_han(ch: str) -> bool:
    """Whether the character is a Han ideograph."""
    return HAN.match(ch) is not None


def _block(codec: str, leads: range, trails: tuple[range, ...]) -> frozenset[str]:
    chars: set[str] = set()
    for lead in leads:
        for trail in (t for r in trails for t in r):
            try:
                chars.add(bytes((lead, trail)).decode(codec))
            except UnicodeDecodeError:
                continue
    return frozenset(chars)


# Each standard orders its everyday characters first: GB2312 level 1 (3,755 hanzi, rows 16-55)
# and Big5's frequently used block (5,401, A440-C67E). Text read with the right codec is almost
# all made of these; the same bytes read with the other codec land outside them about half the
# time, which tells a two-character name's reading from its mojibake where a word list cannot.
_COMMON: Mapping[str, frozenset[str]] = {
    "gb18030": _block("gb2312", range(0xB0, 0xD8), (range(0xA1, 0xFF),)),
    "big5hkscs": _block("big5", range(0xA4, 0xC6), (range(0x40, 0x7F), range(0xA1, 0xFF)))
    | _block("big5", range(0xC6, 0xC7), (range(0x40, 0x7F),)),
}
# A Han character with Latin letters right before and after it ("Fr岣he") is a Latin word whose
# accented letters were read as a double-byte character.
_HAN_IN_LATIN = re.compile(f"(?<=[A-Za-z])[{HAN_CLASS}]{{1,2}}(?=[A-Za-z])")

# Frequent characters of Chinese complaint mail, simplified and traditional. Text decoded with the
# right codec is mostly made of these; the wrong codec yields mostly rare characters.
_FREQUENT_HANZI = frozenset(
    "的一是不了在人有我他这个们中来上大为和国地到以说时要就出会可也你对生能而子那得于着下自之年过发"
    "后作里用道行所然家种事成方多经么去法学如都同现当没动面起看定天分还进好小部其些主样理心她本前开"
    "但因只从想实日军者意无力它与长把机十民第公此已工使情明性知全三又关点正业外将两高间由问很最重并"
    "物手应战向头文体政美相见被利什二等产或新己制身果加西斯月话合回特代内信表化老给世位次度门任常先"
    "海通教儿原东声提立及比员解水名真论处走义各入几口认条平系气题活尔更别打女变四神总何电数安少报才"
    "结反受目太量再感建务做接必场件计管期市直德资命山金指克许统区保至队形社便空决治展马科司五基眼书"
    "非则听白却界达光放强即像难且权思王象完设式色路记南品住告类求据程北边死张该交规万取拉格望觉术领"
    "共确传师观清今切院让识候带导争运笑飞风步改收根干造言联持组每济车亲极林服快办议往元英士证近失转"
    "夫令准布始怎呢存未远叫台单影具罗字爱击流备兵连调深商算质团集百需价花党华城石级整府离况亚请技际"
    "约示复病息究线似官火断精满支视消越器容照须九增研写称企八功吗包片史委乎查轻易早曾除农找装广显吧"
    "阿李标谈吃图念六引历首医局突专费号尽另周较注语仅考落青随选列武红响虽推势参希古众构房半节土投某"
    "案黑维革划敌致陈律足态护七兴派孩验责营星够章音跟志底站严巴例防族供效续施留讲型料终答紧黄绝奇察"
    "母京段依批群项故按河米围江织害斗双境客纪采举杀攻父苏密低朝友诉止细愿千值仍男钱破网热助倒育属坐"
    "限船脸职速刻乐否刚威毛状率甚独球般普怕弹校苦创假久错承印晚兰试股拿脑预谁益阳若哪微尼继送急血惊"
    "伤素药适波夜省初喜卫源食险待述陆习置居劳财环排福纳欢雷警获模充负云停木游龙树疑层冷洲冲射略范竟"
    "句室异激汉村哈策演简卡罪判担州静退既衣您宗积余痛检差富灵协角占配征修皮挥胜降阶审沉坚善妈刘读啊"
    "超免压银买养怀执副乱抗犯追帮宣岁航优怪香著田铁控税左右份穿艺背阵草脚概恶块顿敢守酒岛托央户烈洋"
    "哥索胡款靠评版宝座释景顾弟登货互付伯慢欧换闻危忙核暗姐介坏讨丽良序升监临亮露永呼味野架域沙掉括"
    "鱼杂误湾吉减编楚肯测败屋跑梦散温困渐封救贵缺楼县尚毫移娘朋画班智亦耳恩短掌恐遗固席松秘谢遇康虑"
    "幸均销钟藏赶剧票损忽巨旧端探湖录叶春乡附吸予礼港雨呀板庭妇归睛饭额含顺输摇招婚脱补谓督毒油疗旅"
    "泽材灭逐莫笔亡鲜词择寻厂睡博烟授诺岸卖载健堂旁宫喝借君禁阴园谋避抓荣姑孙逃牙束跳顶玉镇雪午练迫"
    "爷篇肉嘴馆遍凡础洞卷坦牛宁纸诸训私庄祖丝翻暴森塔默握戏隐熟骨访弱歌店鬼软典欲伙遭盘爸扩盖弄稳忘"
    "亿刺拥徒杨齐赛趣曲刀床迎冰虚玩析窗醒妻透购替塞努休扬途侵刑绿兄迅套贸毕唯谷轮库迹尤竞街促延震弃"
    "伟麻申缓潜闪售灯针络抵抱鼓植纯夏忍页筑折尊秀混雅振染盛怒舞圆搞狂措姓残秋培迷诚宽宇猛摆毁伸摩盟"
    "末乃悲拍尾惯俩漫抢赏伏咱旦荐偏赔偿障漏熄联系复承诺款票订单提贷息惠召故胎箱瓶池程耗仪航窗璃椅盘"
    "悬挂灯喇叭刮匙账余额转账存柜负责邮附照频麻烦希尽及严特仍至星钟昨女士址码"
    # traditional forms
    "這個們來為國說時會對發後裡麼經現當沒動還進從實與長機無關點業將兩間問題學樣體種頭產開見員義親話"
    "內應戰軍過構則規製據請讓識導爭運飛風聯組濟車極辦議遠單聽場計總數報結師觀傳領確術覺萬條東聲處氣"
    "務電門兒區隊權認論標檢驗質寫稱僅調選歷醫團專費號轉達際約復創級環帶鐘藥適熱價錢網壞換買賣錯誤護"
    "賠償維修養訴售態顧戶繫覆決諾測銷發訂貸續費優惠輪變速電瓶導鑰盤剎懸減燈銀帳餘櫃檯負責郵圖謝麻煩"
    "盡儘時嚴幾鐘單位號碼這邊讓記該變書親難歡極聲隊筆劃歲輕險鬧讀園圓廣廠愛擊陽陰雙雜離顯響頁順須額"
    "願類飯館馬騎鳥黃齊龍"
)


def normalise_label(label: str) -> str:
    """A charset label as written, compared case-blind: "GB_2312" and '"gb-2312"' are one."""
    label = label.strip().strip("\"'").strip().lower()
    return label.split("*", 1)[0].replace("_", "-")


@lru_cache(maxsize=256)
def codec_for(label: str) -> str | None:
    """The Python codec to read a MIME charset label with; None when the label means nothing."""
    name = normalise_label(label)
    if name in _MEANINGLESS or len(name) > 40:
        return None
    if name in CHARSET_ALIASES:
        return CHARSET_ALIASES[name]
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return None
    if info.name in _NOT_CHARSETS or not getattr(info, "_is_text_encoding", True):
        return None
    return info.name


def _is_stateful(codec: str) -> bool:
    return codec.replace("-", "_").startswith(_STATEFUL_PREFIXES)


def _strict(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _valid_utf8(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _hanzi_score(text: str, codec: str = "", tolerant: bool = False) -> float:
    """Share of everyday characters among the ideographs; 0 when the text is not Chinese-looking.

    `codec`: the Chinese codec the text was read with; its everyday block counts as frequent.
    `tolerant`: symbols among the ideographs (an arrow, a bullet) do not disqualify the text.
    """
    common = _COMMON.get(codec, frozenset())
    ideographs = frequent = other = punctuation = 0
    for ch in text[:_SCORE_SAMPLE]:
        code = ord(ch)
        if code < 0x80:
            continue
        if is_han(ch):
            # The word list and the everyday block count half each: the list separates two
            # readings that both fall in their everyday blocks (請問 and 叫拜).
            ideographs += 2
            frequent += (ch in _FREQUENT_HANZI) + (ch in common)
        elif 0x3000 <= code <= 0x303F or 0xFF00 <= code <= 0xFFEF:
            punctuation += 1
        elif not (0x2010 <= code <= 0x2027 or code == 0xB7):
            other += 1
    if not ideographs and punctuation and not other:
        return 0.5  # only full-width punctuation ("（LTE）"): Chinese, however little of it
    # Chinese text has next to no symbols outside CJK punctuation; mojibake has plenty.
    if not frequent or (not tolerant and other * 20 > ideographs + 2 * other):
        return 0.0
    return frequent / ideographs


def latin_read_as_han(text: str) -> bool:
    """Whether Han characters in the text sit inside Latin words: a wrong double-byte guess."""
    sample = text[:_SCORE_SAMPLE]
    han = sum(map(len, HAN_RUN.findall(sample)))
    if not han:
        return False
    inside = sum(len(m) for m in _HAN_IN_LATIN.findall(sample))
    return inside * 2 >= han


def _looks_western(text: str) -> bool:
    """Whether a windows-1252 reading is Western text, not Big5/GBK bytes shown as Latin-1.

    Western text has accented letters inside words, at most a few in a row; double-byte text
    read as Latin-1 gives runs of them, or symbols (¤j®a»¡) where letters should be.
    """
    letters = symbols = run = 0
    for ch in text:
        if ch.isascii():
            run = 0
            continue
        run += 1
        if run > 3:
            return False
        if ch.isalpha():
            letters += 1
        elif "\u00a1" <= ch <= "\u00bf" or ch in "\u00d7\u00f7" or "\u0080" <= ch <= "\u009f":
            symbols += 1
    # One sign ("N° 12", "5 €") is Western; several with no letters to carry them are not.
    return symbols < 2 or symbols <= letters


def _chinese(data: bytes, declared: str | None = None, tolerant: bool = False) -> Decoded | None:
    """Read bytes as GB18030 or Big5-HKSCS when either gives plausible Chinese.

    `declared`: the Chinese codec the message names; it wins unless its reading scores badly
    and the other one well (the rule decode_bytes applies to a labelled part).
    `tolerant`: the last resort for short text nothing else reads: any reading with everyday
    characters, whatever symbols come with them.
    """
    readings: dict[str, tuple[str, float]] = {}
    for codec in ("gb18030", "big5hkscs"):
        text = _strict(data, codec)
        if text is not None and not latin_read_as_han(text):
            readings[codec] = (text, _hanzi_score(text, codec, tolerant))
    if declared in readings:
        text, score = readings[declared]
        other = _OTHER_CHINESE[declared]
        if score >= 0.3 or other not in readings or readings[other][1] < 0.5:
            return Decoded(text, declared) if score > 0 else None
        return Decoded(readings[other][0], other)
    # max() keeps the first of equals: the mainland codec wins a tie.
    best = max(readings.items(), key=lambda r: r[1][1], default=None)
    if best is None or best[1][1] < (0.3 if tolerant else 0.5):
        return None
    return Decoded(best[1][0], best[0])


def _normaliser(data: bytes) -> Decoded | None:
    if len(data) < _MIN_GUESS_BYTES:
        return None
    try:
        match = from_bytes(data[:_GUESS_SAMPLE]).best()
    except Exception:  # a detector fault must not lose the message
        log.exception("charset detection failed on %d bytes", len(data))
        return None
    if match is None:
        return None
    codec = codec_for(match.encoding)
    if codec is None or codec.startswith(("utf_16", "utf_32")):
        return None  # without a BOM a UTF-16 guess is nearly always wrong for mail
    text = _strict(data, codec)
    if text is None:
        text = data.decode(codec, "replace")
        if not _readable(text, codec):
            return None
        return Decoded(text, codec, "undecodable bytes replaced")
    return Decoded(text, codec) if _readable(text, codec) else None


def _readable(text: str, codec: str) -> bool:
    """Whether a reading is text, not double-byte mojibake of Latin or Latin-1 debris of CJK."""
    if latin_read_as_han(text):
        return False
    return codec not in _WESTERN or _looks_western(text)


_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def guess(data: bytes, hint: str | None = None) -> Decoded:
    """Read bytes of unknown charset: BOM, UTF-8, Chinese, the message's own charset, detection."""
    if data.isascii():
        return Decoded(data.decode("ascii"), "ascii")
    for bom, codec in _BOMS:
        if data.startswith(bom):
            text = _strict(data, codec)
            if text is not None:
                return Decoded(text, codec)
    text = _valid_utf8(data)
    if text is not None:
        return Decoded(text, "utf-8")
    if _mostly_utf8(data):
        return _mixed_utf8(data, hint, "utf-8 text")
    found = _undeclared(data, hint)
    note = found.note or f"undeclared 8-bit text read as {found.charset}"
    return Decoded(found.text, found.charset, note)


def _undeclared(data: bytes, hint: str | None) -> Decoded:
    """Non-UTF-8 bytes of unknown charset; the note is set only when bytes had to be replaced."""
    hinted = codec_for(hint) if hint else None
    found: Decoded | None = None
    # Japanese and Korean bytes can pass for Chinese; the message's own charset comes first then.
    if hinted and hinted not in _WESTERN and hinted not in _CHINESE and hinted != "utf-8":
        found = _decoded(data, hinted)
        if found is not None and not _readable(found.text, hinted):
            found = None
    found = found or _chinese(data, hinted if hinted in _CHINESE else None)
    if found is None and hinted in _WESTERN:
        found = _western_reading(data)
    found = found or _normaliser(data)
    if found is None and len(data) < _MIN_GUESS_BYTES:
        found = (
            _western_reading(data)
            or _chinese(data, hinted if hinted in _CHINESE else None, tolerant=True)
            or _decoded(data, "cp1252")
        )
    if found is None:
        return Decoded(
            data.decode("gb18030", "replace"),
            "gb18030",
            "undeclared 8-bit text: undecodable bytes replaced",
        )
    return found


def _western_reading(data: bytes) -> Decoded | None:
    found = _decoded(data, "cp1252")
    return found if found is not None and _looks_western(found.text) else None


def _mostly_utf8(data: bytes) -> bool:
    """UTF-8 with a few broken sequences (a name cut mid-character, a pasted Latin-1 line)."""
    text = data.decode("utf-8", "replace")
    bad = text.count("\ufffd")
    good = len(text) - len(text.encode("ascii", "ignore")) - bad
    # Legacy CJK bytes make a broken sequence nearly every pair.
    return good >= 4 and good >= 8 * bad


def _stray_8bit(exc: UnicodeError) -> tuple[str, int]:
    """Decode error handler: a stray non-UTF-8 byte in Latin text read as a windows-1252 letter.

    Anything else (a character cut short, bytes among Cyrillic or CJK text, binary junk) is
    marked as lost: its bytes say nothing certain.
    """
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    data = exc.object
    start, end = exc.start, exc.end
    text = bytes(data[start:end]).decode("cp1252", "replace")
    before = bytes(data[start - 1 : start])
    after = bytes(data[end : end + 1])
    context = bytes(data[max(0, start - 12) : end + 12]).decode("utf-8", "ignore")
    if (
        end - start == 1
        and text.isalpha()
        and (before.isalpha() or after.isalpha())
        # Around Greek, Cyrillic, Hebrew or Arabic (two-byte UTF-8 letters) a stray byte is
        # what is left of one of their letters, not a Latin-1 letter.
        and not any("\u0370" <= ch <= "\u07ff" for ch in context)
    ):
        return text, end
    return "\ufffd", end


codecs.register_error("complaintd-stray-8bit", _stray_8bit)


def _mixed_utf8(data: bytes, hint: str | None, what: str) -> Decoded:
    """UTF-8 with lines in another charset (a pasted Latin-1 or GBK paragraph): those lines are
    detected together, like an undeclared part; stray bytes inside UTF-8 lines are read as
    windows-1252 letters."""
    pieces: list[tuple[bool, bytes]] = []  # (foreign, bytes), foreign lines run together
    for line in data.splitlines(keepends=True):
        foreign = _valid_utf8(line) is None and not _mostly_utf8(line)
        if pieces and pieces[-1][0] and foreign:
            pieces[-1] = (True, pieces[-1][1] + line)
        else:
            pieces.append((foreign, line))
    # One detection over every foreign line: a body alternating good and bad lines must not
    # cost one detector run per line.
    codec: str | None = None
    if any(foreign for foreign, _ in pieces):
        found = _undeclared(b"\n".join(b for foreign, b in pieces if foreign), hint)
        codec = None if found.note else found.charset
    out: list[str] = []
    for foreign, chunk in pieces:
        if not foreign:
            out.append(chunk.decode("utf-8", "complaintd-stray-8bit"))
            continue
        text = _strict(chunk, codec) if codec else None
        # Bytes no charset reads (binary junk) are replaced in one pass of the codec's own loop.
        out.append(text if text is not None else chunk.decode("utf-8", "replace"))
    result = "".join(out)
    if "\ufffd" in result:
        note = f"{what}: undecodable bytes replaced"
    elif codec is not None:
        note = f"{what}: 8-bit lines read as {codec}"
    else:
        note = f"{what}: stray 8-bit bytes read as cp1252"
    return Decoded(result, "utf-8", note)


def _decoded(data: bytes, codec: str) -> Decoded | None:
    text = _strict(data, codec)
    return None if text is None else Decoded(text, codec)


def decode_bytes(
    data: bytes, label: str | None = None, hint: str | None = None, trusted: bool = False
) -> Decoded:
    """Decode text labelled `label` (None, bogus or wrong alike); `hint`: the message's charset.

    `trusted`: the label names these very bytes (an RFC 2047 encoded word): a non-Western label
    that decodes them cleanly (no private-use characters, no Han inside Latin words) is kept,
    never second-guessed.
    """
    codec = codec_for(label) if label else None
    if codec is None or label is None:
        found = guess(data, hint)
        if label and normalise_label(label) not in _MEANINGLESS and not data.isascii():
            return Decoded(
                found.text,
                found.charset,
                f"unknown charset {label.strip()[:40]!r} read as {found.charset}",
            )
        return found
    name = normalise_label(label)
    stateful = _is_stateful(codec)
    if not stateful and data.isascii():
        return Decoded(data.decode("ascii"), codec)
    if codec in _WESTERN:
        return _western(data, name, hint)
    if codec != "utf-8" and not stateful and not trusted:
        text = _valid_utf8(data)
        # Legacy CJK bytes pass for UTF-8 only as short runs of two-byte (Latin, Cyrillic) letters.
        if text is not None and _UTF8_THREE_BYTE.search(data):
            return Decoded(text, "utf-8", f"charset {name} read as utf-8")
    for candidate in (codec, *_WIDER.get(codec, ())):
        text = _strict(data, candidate)
        if text is not None:
            if trusted and _clean(text):
                return Decoded(text, candidate, _superset_note(data, name, candidate))
            return _checked(data, text, name, candidate, hint)
    replaced = data.decode(codec, "replace")
    other: Decoded | None = None
    if replaced.count("\ufffd") * 50 > len(replaced):  # more than a few damaged bytes
        other = _decoded(data, "utf-8") or _chinese(data) or _normaliser(data)
    if other is not None and not other.note:
        note = f"charset {name} does not fit; read as {other.charset}"
        return Decoded(other.text, other.charset, note)
    if codec == "utf-8":
        return _mixed_utf8(data, hint, f"charset {name}")
    if stateful and not data.isascii():
        # A 7-bit charset (UTF-7, ISO-2022) cannot have made 8-bit bytes: they are another
        # charset's, read the way undeclared text is.
        found = _undeclared(data, hint)
        if not found.note:
            return Decoded(found.text, found.charset, f"charset {name} read as {found.charset}")
    return Decoded(replaced, codec, f"charset {name}: undecodable bytes replaced")


_PRIVATE_USE = re.compile("[\ue000-\uf8ff]")


def _clean(text: str) -> bool:
    """A strict decode that holds no private-use characters and no Han inside Latin words."""
    return _PRIVATE_USE.search(text) is None and not latin_read_as_han(text)


def _checked(data: bytes, text: str, name: str, codec: str, hint: str | None) -> Decoded:
    """Catch Big5 sent as GB2312 and the reverse (both decode, only one reads as Chinese), and
    Latin text under a double-byte label (its accented letters come out as Han characters)."""
    other = _OTHER_CHINESE.get(codec)
    if other is not None and _hanzi_score(text, codec) < 0.3:
        swapped = _strict(data, other)
        if swapped is not None and _hanzi_score(swapped, other) >= 0.5:
            return Decoded(swapped, other, f"charset {name} does not fit; read as {other}")
    if latin_read_as_han(text):
        found = _undeclared(data, hint)
        if not found.note and found.charset != codec:
            note = f"charset {name} does not fit; read as {found.charset}"
            return Decoded(found.text, found.charset, note)
    return Decoded(text, codec, _superset_note(data, name, codec))


def _western(data: bytes, name: str, hint: str | None) -> Decoded:
    """Western labels are often put on UTF-8 or Chinese text by misconfigured clients."""
    text = _valid_utf8(data)
    if text is not None:
        return Decoded(text, "utf-8", f"charset {name} read as utf-8")
    found = _chinese(data)
    if found is not None:
        return Decoded(found.text, found.charset, f"charset {name} read as {found.charset}")
    if name in ("us-ascii", "ascii", "ansi-x3.4-1968"):
        found = guess(data, hint)
        note = f"8-bit text labelled {name} read as {found.charset}"
        return Decoded(found.text, found.charset, note)
    western = _decoded(data, "cp1252") or Decoded(data.decode("latin-1"), "latin-1")
    if not _looks_western(western.text):  # Big5 or GBK bytes shown as Latin-1 symbols
        found = _undeclared(data, hint)
        if not found.note and found.charset not in _WESTERN:
            return Decoded(found.text, found.charset, f"charset {name} read as {found.charset}")
    return western


def _superset_note(data: bytes, name: str, codec: str) -> str:
    """Say when the declared label alone could not have read the bytes."""
    narrow = _python_codec(name)
    if narrow is None or narrow == codec or _strict(data, narrow) is not None:
        return ""
    return f"charset {name} read as {codec}"


@lru_cache(maxsize=64)
def _python_codec(name: str) -> str | None:
    try:
        return codecs.lookup(name).name
    except (LookupError, ValueError):
        return None
