"""Names of Chinese provinces, cities, counties and districts, for the other-city scope rule.

The corpus holds national rules and one sample city (示例市); a question about a named place
elsewhere (湖北省, 宿州市, 海陵区 …) asks for local rules the assistant does not have. The names
come from the place entries (`ns`) of the dictionary that ships inside jieba, kept only when they
end in an administrative suffix, plus the provinces by their short names, plus the cities people
name without a suffix (温州, 佛山 …) from `data/cities.txt`. Hong Kong, Macao and
Taiwan are left out on purpose: questions about travelling there are answered by national guides.
"""

from __future__ import annotations

import re
from importlib import resources

from assistant.errors import ConfigError
from assistant.lexical import tokenize

PROVINCES = frozenset(
    "北京 天津 河北 山西 内蒙古 辽宁 吉林 黑龙江 上海 江苏 浙江 安徽 福建 江西 山东 河南 湖北 湖南 广东 广西 海南 "
    "重庆 四川 贵州 云南 西藏 陕西 甘肃 青海 宁夏 新疆".split())
ADMINISTRATIVE = re.compile(r"^[\u4e00-\u9fff]{2,}(省|市|县|区|州|盟|旗)$")
# Words with an administrative-looking ending that name no place (超市, 小区 …), and the places
# that are not "elsewhere" (the special administrative regions, see above).
NOT_PLACES = re.compile(r"(超市|城市|都市|门市|夜市|上市|集市|股市|楼市|菜市|花市|早市|黑市|街区|社区|城区|市区|景区|园区|小区|"
                        r"辖区|片区|营区|林区|矿区|山区|郊区|灾区|禁区|误区|专区|地区|风景区|开发区|保护区|示范区|"
                        r"城[东西南北中]区|新区|香港|澳门|台湾)")
# A place the person comes from or goes to ("河南户口", "从江苏调来", "医保在浙江怎么报销") is not a
# question about that place's rules: residence permits and transfers across provinces are national.
MOVED_FROM_OR_TO = re.compile(r"(从|在|去|到|回|往|来自|是|老家)$")  # 老家河南的: where one is from
PERSONAL_TIE = re.compile(r"^(户口|户籍|籍|人|话|调|迁|转|来|过来|回来)")


class PlaceNames:
    def __init__(self, names: frozenset[str]) -> None:
        self.names = names

    @classmethod
    def load(cls) -> PlaceNames:
        try:
            text = resources.files("jieba").joinpath("dict.txt").read_text(encoding="utf-8")
        except (OSError, ModuleNotFoundError) as exc:
            raise ConfigError(f"cannot read jieba's dictionary for place names: {exc}") from exc
        try:
            cities = resources.files("assistant").joinpath("data", "cities.txt").read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read the city names: {exc}") from exc
        names = set(PROVINCES) | {f"{p}省" for p in PROVINCES}
        names |= {line.strip() for line in cities.splitlines() if line.strip() and not line.startswith("#")}
        for line in text.splitlines():
            word, _, tag = line.rpartition(" ")
            word = word.split(" ")[0]
            if tag == "ns" and ADMINISTRATIVE.match(word) and not NOT_PLACES.search(word):
                names.add(word)
        return cls(frozenset(names))

    def find(self, text: str) -> str | None:
        """A place in `text` whose rules the question asks about, if any (the longest name first:
        宿州市 before 宿州)."""
        for token in sorted(tokenize(text), key=len, reverse=True):
            if token not in self.names:
                continue
            for found in re.finditer(re.escape(token), text):
                before, after = text[max(0, found.start() - 2):found.start()], text[found.end():found.end() + 2]
                if not MOVED_FROM_OR_TO.search(before) and not PERSONAL_TIE.match(after):
                    return token
        return None
