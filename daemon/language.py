"""Which language a complaint is written in: Simplified Chinese, Traditional Chinese or English."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from daemon.charsets import HAN_RUN

LANGUAGES = ("zh-CN", "zh-TW", "en")

# Pairs of (Simplified, Traditional) forms of frequent characters. Only characters whose
# Simplified form is not also in everyday Traditional use are listed (制, 准, 台, 范 ... are not),
# so a hit on either side is evidence for that script.
CHARACTER_PAIRS = """
这這 们們 车車 维維 刹剎 说說 时時 问問 题題 务務 发發 动動 机機 为為 会會 对對 过過 还還 没沒
个個 来來 后後 实實 处處 经經 销銷 买買 卖賣 质質 费費 态態 门門 员員 开開 关關 见見 话話 电電
钱錢 价價 贵貴 换換 让讓 认認 识識 谁誰 请請 谢謝 询詢 诉訴 讼訟 师師 记記 体體 气氣 愤憤 满滿
应應 该該 么麼 样樣 种種 钟鐘 间間 现現 从從 边邊 离離 险險 护護 损損 坏壞 异異 响響 灯燈 变變
转轉 盘盤 轮輪 悬懸 挂掛 统統 导導 级級 报報 厂廠 总總 顾顧 户戶 约約 订訂 单單 据據 证證 书書
贷貸 号號 码碼 网網 络絡 线線 缆纜 终終 帐帳 账賬 资資 条條 权權 补補 偿償 赔賠 乱亂 额額 银銀
储儲 汇匯 币幣 复復 杂雜 几幾 点點 击擊 烦煩 恼惱 脑腦 软軟 层層 楼樓 写寫 东東 万萬 与與 专專
业業 两兩 严嚴 临臨 举舉 义義 乐樂 习習 乡鄉 争爭 亏虧 产產 亲親 亿億 仅僅 仓倉 仪儀 众眾 优優
伤傷 伦倫 佣傭 侧側 债債 倾傾 儿兒 党黨 兰蘭 兴興 养養 内內 册冊 军軍 农農 决決 况況 冻凍 净淨
凉涼 减減 凭憑 凯凱 则則 刚剛 创創 删刪 别別 剂劑 剧劇 劝勸 办辦 励勵 劲勁 劳勞 势勢 区區 医醫
华華 协協 卢盧 卫衛 厅廳 历歷 压壓 县縣 参參 双雙 叹嘆 吓嚇 吗嗎 启啟 哑啞 团團 园園 围圍 图圖
国國 圣聖 场場 块塊 坚堅 垫墊 墙牆 壮壯 声聲 备備 够夠 头頭 夹夾 夺奪 奋奮 奖獎 妇婦 娱娛 孙孫
学學 宁寧 宝寶 审審 宽寬 宾賓 寻尋 寿壽 将將 尔爾 尘塵 尝嘗 属屬 岁歲 岛島 帅帥 带帶 帮幫 广廣
庄莊 庆慶 库庫 废廢 张張 弹彈 归歸 当當 录錄 彻徹 忆憶 忧憂 怀懷 恶惡 恳懇 惊驚 惧懼 惨慘
惯慣 愿願 戏戲 战戰 执執 扩擴 扫掃 扬揚 扰擾 抢搶 担擔 拟擬 拥擁 择擇 挡擋 挤擠 挥揮 摄攝 摆擺
摇搖 敌敵 数數 断斷 无無 旧舊 显顯 晓曉 晕暈 暂暫 术術 杀殺 杨楊 极極 构構 枪槍 柜櫃 标標 栏欄
树樹 档檔 桥橋 检檢 欢歡 欧歐 残殘 毁毀 毕畢 汉漢 汤湯 沟溝 泽澤 洁潔 浅淺 测測 济濟 浓濃 涌湧
润潤 涨漲 渐漸 温溫 湾灣 湿濕 滚滾 灭滅 灵靈 灾災 炉爐 炼煉 烂爛 烟煙 热熱 爱愛 牵牽 状狀 犹猶
独獨 狭狹 猪豬 猫貓 献獻 环環 画畫 畅暢 疗療 监監 盖蓋 确確 础礎 礼禮 祸禍 积積 称稱 税稅 稳穩
穷窮 窃竊 竞競 笔筆 签簽 简簡 类類 粮糧 紧緊 纠糾 红紅 纪紀 纯純 纳納 纸紙 练練 组組 细細 织織
结結 绕繞 给給 绝絕 继繼 绩績 续續 综綜 绿綠 缓緩 编編 缘緣 缩縮 缴繳 罚罰 职職 联聯 肃肅 胁脅
脏髒 脸臉 节節 荣榮 药藥 获獲 虑慮 虽雖 装裝 观觀 规規 视視 览覽 觉覺 计計 讨討 训訓 议議 讲講
许許 论論 设設 访訪 评評 诈詐 词詞 试試 诚誠 详詳 误誤 读讀 课課 调調 谈談 谨謹 贝貝 负負 财財
责責 败敗 货貨 贩販 购購 贯貫 贴貼 贸貿 赖賴 赚賺 赛賽 赶趕 趋趨 践踐 轨軌 轻輕 载載 较較 辅輔
辆輛 输輸 辞辭 达達 迁遷 运運 进進 远遠 违違 连連 迟遲 适適 选選 递遞 遗遺 邮郵 邻鄰 释釋 钢鋼
钥鑰 铁鐵 锁鎖 错錯 键鍵 长長 闭閉 闷悶 闹鬧 闻聞 阀閥 阅閱 队隊 阳陽 阴陰 际際 陆陸 陈陳 随隨
隐隱 难難 雾霧 页頁 顶頂 项項 顺順 须須 预預 领領 频頻 颜顏 风風 飞飛 饭飯 饮飲 驾駕 驶駛 验驗
骗騙 鱼魚 鸡雞 黄黃 齐齊 龙龍 尽盡 叶葉
"""

SIMPLIFIED_ONLY = frozenset(pair[0] for pair in CHARACTER_PAIRS.split())
# Traditional forms, plus Traditional characters whose Simplified counterpart is shared by both.
TRADITIONAL_ONLY = frozenset(pair[1] for pair in CHARACTER_PAIRS.split()) | frozenset(
    "裡裏麵髮鬆隻週臺製準劃塗傑衝"
)

_SIMPLIFIED = re.compile(f"[{''.join(sorted(SIMPLIFIED_ONLY))}]")
_TRADITIONAL = re.compile(f"[{''.join(sorted(TRADITIONAL_ONLY))}]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
# Addresses and links are Latin whatever the language of the sentence around them.
_NOISE = re.compile(r"https?://\S+|www\.\S+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def detect_language(text: str, default: str = "zh-CN") -> str:
    """zh-CN, zh-TW or en, by script; `default` when the text gives no clue."""
    # Word characters include Han, so the address pattern is slow on Chinese: run it only when
    # the text could hold an address or a link.
    clean = _NOISE.sub(" ", text) if "@" in text or "://" in text or "www." in text else text
    han = sum(map(len, HAN_RUN.findall(clean)))
    words = len(_LATIN_WORD.findall(clean))
    # A Chinese character carries about as much as an English word, so compare those counts.
    if not han and not words:
        return default
    if words > han:
        return "en"
    simplified = len(_SIMPLIFIED.findall(clean))
    traditional = len(_TRADITIONAL.findall(clean))
    if traditional > simplified:
        return "zh-TW"
    if simplified > traditional:
        return "zh-CN"
    return default if default in ("zh-CN", "zh-TW") else "zh-CN"


# -- comparing names ----------------------------------------------------------------------------

# Characters of names whose Traditional form differs, beyond the pairs above (which are picked
# for telling the scripts apart): frequent surnames and given-name characters.
NAME_PAIRS = """
郑鄭 刘劉 赵趙 吴吳 马馬 罗羅 谢謝 韩韓 冯馮 邓鄧 萧蕭 苏蘇 蒋蔣 龚龔 贺賀 邹鄒 闫閆 谭譚 钟鍾
贾賈 韦韋 纪紀 涂塗 诸諸 鲁魯 骆駱 聂聶 庞龐 阎閻 邬鄔 窦竇 伟偉 强強 杰傑 丽麗 涛濤 锋鋒
辉輝 凤鳳 鹏鵬 栋棟 颖穎 婵嬋 娴嫻 琼瓊 莺鶯
"""

# Invisible characters that split a name without showing: zero-width space and joiners, word
# joiner, BOM, soft hyphen, direction marks (all format characters, category Cf), variation
# selectors, the combining grapheme joiner and the Hangul fillers that render as nothing.
_INVISIBLE_EXTRA = "\u034f\u115f\u1160\u3164\uffa0" + "".join(
    chr(c) for c in (*range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0))
)
_INVISIBLE: dict[int, None] = dict.fromkeys(
    [
        *(c for c in range(0x10000) if unicodedata.category(chr(c)) == "Cf"),
        *range(0xE0000, 0xE0080),  # tag characters
        *map(ord, _INVISIBLE_EXTRA),
    ]
)
_TO_SIMPLIFIED: dict[int, str] = {
    ord(pair[1]): pair[0] for pair in (*CHARACTER_PAIRS.split(), *NAME_PAIRS.split())
}


def _any_of(code_points: Iterable[int]) -> re.Pattern[str]:
    """A search for any of the characters, written as ranges: a class of single characters
    beyond the BMP is searched one by one, far slower than the translation it spares."""
    ranges: list[list[int]] = []
    for c in sorted(code_points):
        if ranges and c == ranges[-1][1] + 1:
            ranges[-1][1] = c
        else:
            ranges.append([c, c])
    return re.compile("[" + "".join(f"\\U{a:08x}-\\U{b:08x}" for a, b in ranges) + "]")


# str.translate looks every character up, which costs more than the rest of the normalisation
# on a long Chinese text; a search for the few that would change is a fraction of that.
_HAS_INVISIBLE = _any_of(_INVISIBLE)
_HAS_TRADITIONAL = _any_of(_TO_SIMPLIFIED)


# The full-width punctuation of nearly every Chinese text, each with its NFKC form: mapped
# first, most texts are then already in NFKC, which is checked at a fraction of the cost of
# normalising (a long complaint went through NFKC twice, for its rules and for its names).
_FULL_WIDTH_PUNCTUATION = {c: unicodedata.normalize("NFKC", c) for c in "，：；！？（）"}


def nfkc(text: str) -> str:
    """unicodedata.normalize("NFKC", text), quicker on Chinese text."""
    for wide, narrow in _FULL_WIDTH_PUNCTUATION.items():
        if wide in text:
            text = text.replace(wide, narrow)
    return text if unicodedata.is_normalized("NFKC", text) else unicodedata.normalize("NFKC", text)


def normalise_text(text: str) -> str:
    """Text as names are compared, the same for a name and for a complaint: invisible characters
    removed, NFKC (full-width letters and digits, compatibility ideographs), case folded, and
    Traditional characters of the pair tables turned Simplified."""
    # Invisible characters go first: between a letter and its combining accent one would keep
    # NFKC from composing them.
    if _HAS_INVISIBLE.search(text):
        text = text.translate(_INVISIBLE)
    text = nfkc(text).casefold()
    return text.translate(_TO_SIMPLIFIED) if _HAS_TRADITIONAL.search(text) else text
