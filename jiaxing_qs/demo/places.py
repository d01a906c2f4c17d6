"""What the demo knows about Jiaxing's places: each county's and town's industries, size and risk level.

Industries follow the real clusters (海宁皮革 and 马桥经编, 濮院毛衫, 平湖服装箱包, 嘉善木业, 海盐紧固件).
Each county has the risk share the demo story needs at ``as_of`` (海宁 red, 嘉善 and 平湖 orange, 秀洲 and
桐乡 yellow, 南湖 and 海盐 green): the history generator solves the county's non-conformity factor to reach
it, whatever the date and the number of enterprises. Town factors spread the towns over all colours.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CountyProfile:
    pinyin: str
    name_prefix: str  # how local enterprise names start
    share: float  # share of all demo enterprises
    industries: dict[str, float]  # industry tag → weight
    risk_share: float  # percent of active enterprises that are risk enterprises at as_of
    trend: float  # factor on the non-conformity probability in the most recent months (the year's trend)


@dataclass(frozen=True)
class TownProfile:
    weight: float | None = None  # size relative to an average town (镇 1.0, 街道 0.55 by default)
    industries: dict[str, float] = field(default_factory=dict)  # added to the county's, with priority
    risk: float | None = None  # the town's factor on its county's non-conformity rate; otherwise drawn around 1


# Every county also has a little of everything, so all catalogue classes appear on the map.
BASE_INDUSTRIES = {
    "daily": 0.3,
    "food_contact": 0.35,
    "electrical": 0.3,
    "building": 0.3,
    "stationery": 0.15,
    "children": 0.2,
    "farm": 0.12,
    "lighting": 0.15,
    "appliance": 0.2,
}

COUNTIES = {
    "330402": CountyProfile(
        "nanhu",
        "嘉兴市",
        0.11,
        {"electronics": 3, "machinery": 3, "auto_parts": 2.5, "appliance": 1, "garment": 1, "electrical": 1},
        risk_share=4,
        trend=0.35,
    ),
    "330411": CountyProfile(
        "xiuzhou",
        "嘉兴市",
        0.14,
        {"knitting": 3, "garment": 1.5, "appliance": 2, "electronics": 2, "chemical": 1, "machinery": 1},
        risk_share=8,
        trend=1.4,
    ),
    "330421": CountyProfile(
        "jiashan",
        "嘉善县",
        0.13,
        {"wood": 4, "electronics": 2.5, "building": 2, "machinery": 1, "lighting": 0.7},
        risk_share=13.5,
        trend=1.3,
    ),
    "330424": CountyProfile(
        "haiyan",
        "海盐县",
        0.10,
        {"machinery": 4, "electrical": 2.5, "auto_parts": 2, "chemical": 0.6, "appliance": 0.6},
        risk_share=3.5,
        trend=0.35,
    ),
    "330481": CountyProfile(
        "haining",
        "海宁市",
        0.19,
        {"leather": 4, "knitting": 3, "garment": 1.5, "electronics": 1.5, "lighting": 0.8, "chemical": 0.6},
        risk_share=23,
        trend=1.3,
    ),
    "330482": CountyProfile(
        "pinghu",
        "平湖市",
        0.14,
        {"garment": 3.5, "luggage": 3, "electronics": 2, "auto_parts": 1.5, "machinery": 1, "children": 0.6},
        risk_share=12,
        trend=0.5,
    ),
    "330483": CountyProfile(
        "tongxiang",
        "桐乡市",
        0.19,
        {"sweater": 4, "chemical": 2.5, "garment": 1.5, "knitting": 1, "leather": 0.6, "machinery": 0.6},
        risk_share=7,
        trend=0.8,
    ),
}

CITY_RISK_SHARE = 11.0  # about the city-wide share: a county's share over this scales its licence lapses and complaints
STREET_WEIGHT = 0.55  # a 街道 is mostly town centre: fewer factories than a 镇

TOWNS = {
    # 南湖区: the two old-town streets have hardly any factories ("too few to colour").
    "建设街道": TownProfile(weight=0.03),
    "解放街道": TownProfile(weight=0.03),
    "新嘉街道": TownProfile(weight=0.3),
    "七星街道": TownProfile(weight=0.9, industries={"electronics": 3}),
    "大桥镇": TownProfile(weight=1.5, industries={"auto_parts": 3, "machinery": 2}),
    "余新镇": TownProfile(industries={"machinery": 2, "garment": 1}),
    "凤桥镇": TownProfile(weight=0.8, industries={"farm": 2, "food_contact": 1}, risk=3.0),
    "新丰镇": TownProfile(industries={"machinery": 2, "electrical": 1}),
    # 秀洲区
    "王江泾镇": TownProfile(weight=1.8, industries={"knitting": 6, "garment": 1}, risk=1.6),
    "洪合镇": TownProfile(weight=1.5, industries={"sweater": 6}),
    "新塍镇": TownProfile(weight=1.2, industries={"knitting": 2, "chemical": 2}),
    "王店镇": TownProfile(weight=1.2, industries={"appliance": 4, "electrical": 1}),
    "油车港镇": TownProfile(industries={"electronics": 3}, risk=0.3),
    # 嘉善县
    "干窑镇": TownProfile(weight=1.4, industries={"wood": 5, "building": 2}),
    "天凝镇": TownProfile(weight=1.5, industries={"wood": 6}, risk=1.7),
    "陶庄镇": TownProfile(weight=1.1, industries={"wood": 3, "machinery": 1}),
    "姚庄镇": TownProfile(weight=1.3, industries={"electronics": 3, "auto_parts": 1}),
    "大云镇": TownProfile(industries={"electronics": 2, "children": 1}, risk=0.35),
    "西塘镇": TownProfile(weight=1.1, industries={"daily": 2, "garment": 1}),
    # 海盐县: fasteners around 武原 and 百步; 澉浦 is the county's problem town.
    "武原街道": TownProfile(weight=1.0, industries={"machinery": 5}),
    "秦山街道": TownProfile(weight=0.7, industries={"electrical": 3}),
    "百步镇": TownProfile(weight=1.2, industries={"machinery": 3, "electrical": 2}),
    "于城镇": TownProfile(industries={"electrical": 2, "machinery": 1}),
    "澉浦镇": TownProfile(weight=0.8, industries={"building": 2}, risk=4.0),
    "通元镇": TownProfile(industries={"auto_parts": 2, "machinery": 1}),
    # 海宁市: warp knitting in 马桥 and 许村, leather around the 皮革城 (海洲) and 周王庙; 黄湾 is clean.
    "马桥街道": TownProfile(weight=1.6, industries={"knitting": 6}, risk=1.2),
    "许村镇": TownProfile(weight=1.6, industries={"knitting": 5, "garment": 1}),
    "海昌街道": TownProfile(weight=1.0, industries={"leather": 4, "electronics": 2}),
    "海洲街道": TownProfile(weight=0.9, industries={"leather": 5}, risk=1.4),
    "长安镇": TownProfile(weight=1.3, industries={"knitting": 2, "electronics": 2, "leather": 1}),
    "周王庙镇": TownProfile(weight=1.2, industries={"leather": 4}, risk=1.3),
    "斜桥镇": TownProfile(industries={"leather": 2, "garment": 1}),
    "黄湾镇": TownProfile(weight=0.8, industries={"lighting": 2, "electronics": 1}, risk=0.12),
    "盐官镇": TownProfile(weight=0.8, industries={"lighting": 3}),
    # 平湖市: garments in town, luggage in 钟埭 / 曹桥 / 新埭, chemicals at the port (乍浦, 独山港).
    "当湖街道": TownProfile(weight=0.9, industries={"garment": 3}),
    "钟埭街道": TownProfile(weight=1.0, industries={"luggage": 3, "garment": 2}),
    "曹桥街道": TownProfile(weight=1.0, industries={"luggage": 3}, risk=1.5),
    "乍浦镇": TownProfile(industries={"chemical": 3, "auto_parts": 1}),
    "新埭镇": TownProfile(weight=1.2, industries={"luggage": 2, "electronics": 2}),
    "新仓镇": TownProfile(weight=1.1, industries={"garment": 2, "auto_parts": 2}),
    "广陈镇": TownProfile(weight=0.8, industries={"farm": 1.5, "garment": 1}, risk=0.25),
    "林埭镇": TownProfile(industries={"auto_parts": 2, "machinery": 1}),
    "独山港镇": TownProfile(industries={"chemical": 2}),
    # 桐乡市: sweaters in 濮院 (and 石门), chemical fibre in 洲泉, fur and leather in 崇福.
    "濮院镇": TownProfile(weight=2.2, industries={"sweater": 8}),
    "洲泉镇": TownProfile(weight=1.3, industries={"chemical": 5}),
    "崇福镇": TownProfile(weight=1.3, industries={"leather": 4}, risk=1.8),
    "大麻镇": TownProfile(industries={"knitting": 2, "chemical": 2}),
    "石门镇": TownProfile(industries={"sweater": 2, "machinery": 1}),
    "屠甸镇": TownProfile(industries={"machinery": 2, "electronics": 1}),
    "乌镇镇": TownProfile(weight=0.9, industries={"garment": 2, "daily": 1}, risk=0.3),
}

# 商号 (trade names) are two characters, one from each list.
TRADE_FIRST = "恒华鑫永宏金瑞天新盛嘉鼎昌隆丰泰锦福宝正元聚汇宇通晨佳振兴东明伟安康中凯德博荣海诚益万大力利美长富"
TRADE_SECOND = "达盛丰源泰鑫隆昌兴华宇通成利宝瑞德发祥辉美森峰翔越创邦腾顺和信诚龙阳亿业洋星光"

# Industry words per tag: (for companies, for factories 厂).
INDUSTRY_WORDS = {
    "knitting": (("经编", "针织", "纺织", "家纺", "经编科技"), ("经编", "针织", "纺织")),
    "sweater": (("毛衫", "针织", "服饰", "羊毛衫", "时装"), ("毛衫", "羊毛衫", "针织")),
    "leather": (("皮革", "皮业", "皮草", "鞋业", "皮件"), ("皮革", "制鞋", "皮件")),
    "garment": (("服饰", "制衣", "服装", "时装"), ("服装", "制衣")),
    "luggage": (("箱包", "旅游用品", "箱包皮件"), ("箱包", "箱包皮件")),
    "wood": (("木业", "装饰材料", "家具", "木制品"), ("胶合板", "木制品", "家具")),
    "appliance": (("电器", "家用电器", "电器科技", "厨具"), ("电器", "家电")),
    "electronics": (("电子", "电子科技", "智能科技", "光电科技"), ("电子元件", "电子")),
    "lighting": (("照明", "光电", "灯饰", "照明电器"), ("灯具", "灯饰")),
    "auto_parts": (("汽车零部件", "汽配", "汽车部件", "车业"), ("汽车配件", "汽配")),
    "machinery": (("机械", "紧固件", "标准件", "五金", "精密机械"), ("机械", "标准件", "五金")),
    "chemical": (("化工", "化纤", "新材料", "涂料"), ("化工", "化纤")),
    "building": (("建材", "新型建材", "管业", "陶瓷"), ("建材", "水泥制品")),
    "food_contact": (("塑料制品", "包装", "日用品", "餐具"), ("塑料制品", "包装")),
    "children": (("玩具", "童车", "儿童用品"), ("玩具", "童车")),
    "stationery": (("文具", "体育用品", "运动用品"), ("文具", "体育用品")),
    "daily": (("日用品", "家居用品", "纽扣", "工艺品"), ("日用品", "纽扣")),
    "farm": (("农资", "肥业", "生物科技", "农业科技"), ("化肥", "肥料")),
    "electrical": (("电气", "电缆", "电线电缆", "开关"), ("电器", "电缆")),
}
NAME_SUFFIXES = (("有限公司", 78), ("股份有限公司", 7), ("厂", 15))

ROADS = (
    "人民路",
    "解放路",
    "建设路",
    "中山路",
    "文昌路",
    "工业大道",
    "创业路",
    "新兴路",
    "发展大道",
    "兴业路",
    "长虹路",
    "富民路",
    "环城路",
    "东方路",
    "勤俭路",
    "育才路",
    "振兴路",
    "联合路",
    "园区路",
    "科技大道",
    "秀水路",
    "永安路",
    "和平路",
    "光明路",
    "纬三路",
    "经二路",
)

# What non-conforming results say, by the product's first industry tag.
FAILED_ITEMS = {
    "knitting": ("纤维含量不合格", "甲醛含量不合格", "pH值不合格", "耐摩擦色牢度不合格", "断裂强力不合格"),
    "sweater": ("纤维含量不合格", "起球不合格", "耐摩擦色牢度不合格", "水洗尺寸变化率不合格", "使用说明不合格"),
    "leather": ("耐磨性不合格", "耐折性能不合格", "剥离强度不合格", "六价铬不合格", "甲醛含量不合格"),
    "garment": ("纤维含量不合格", "pH值不合格", "可分解致癌芳香胺染料不合格", "耐水色牢度不合格", "标志标识不合格"),
    "luggage": ("拉杆疲劳不合格", "走行试验不合格", "振荡冲击性能不合格", "箱体抗冲击性能不合格"),
    "wood": ("甲醛释放量不合格", "含水率不合格", "胶合强度不合格", "静曲强度不合格"),
    "appliance": (
        "电气强度不合格",
        "接地措施不合格",
        "发热不合格",
        "输入功率和电流不合格",
        "对触及带电部件的防护不合格",
        "标志和说明不合格",
    ),
    "electronics": ("骚扰电压不合格", "辐射骚扰不合格", "电气强度不合格", "标志标识不合格"),
    "lighting": ("防触电保护不合格", "耐热耐火不合格", "谐波电流不合格", "骚扰电压不合格", "标记不合格"),
    "auto_parts": ("制动性能不合格", "耐久性不合格", "尺寸偏差不合格", "耐腐蚀性不合格"),
    "machinery": ("保证载荷不合格", "硬度不合格", "抗拉强度不合格", "机械性能不合格", "表面缺陷不合格"),
    "chemical": ("有害物质含量不合格", "游离甲醛不合格", "断裂强度不合格", "挥发性有机化合物含量不合格"),
    "building": ("抗压强度不合格", "放射性不合格", "吸水率不合格", "尺寸偏差不合格"),
    "food_contact": ("总迁移量不合格", "高锰酸钾消耗量不合格", "重金属不合格", "脱色试验不合格"),
    "children": ("小零件不合格", "可触及锐利边缘不合格", "增塑剂不合格", "可迁移元素不合格"),
    "stationery": ("可迁移元素不合格", "增塑剂不合格", "书写性能不合格", "标志标识不合格"),
    "daily": ("标志标识不合格", "耐用性不合格", "有害物质限量不合格"),
    "farm": ("养分含量不合格", "水分不合格", "有效成分含量不合格", "粒度不合格"),
    "electrical": ("电气强度不合格", "导体电阻不合格", "绝缘老化前机械性能不合格", "标志和说明不合格"),
}
GENERIC_FAILED_ITEMS = ("标志标识不合格", "产品性能不合格", "安全性能不合格")


def town_stem(name: str) -> str:
    """The town's name as used inside enterprise names: 濮院镇 → 濮院, 马桥街道 → 马桥, 乌镇镇 → 乌镇."""
    for suffix in ("街道", "镇"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name
