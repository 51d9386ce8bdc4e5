from assistant.quantities import asked_quantities, unstated


def names(question: str) -> list[str]:
    return [quantity.name for quantity in asked_quantities(question)]


def test_questions_asking_for_a_fee_a_time_an_age_or_a_sum_are_told_apart() -> None:
    assert names("办护照要多少钱") == ["费用或金额"]
    assert names("出生医学证明收费吗？") == ["费用或金额"]
    assert names("办港澳通行证同签注要几多钱啊？") == ["费用或金额"]
    assert names("驾照快到期了，提前多久能去换？") == ["时间"]
    assert names("BB出世之后几耐之内要报户口啊？") == ["时间"]
    assert names("孩子多大要去办身份证") == ["年龄"]
    assert names("延迟退休以后男的多少岁退休") == ["年龄"]
    assert names("公积金贷款最多能贷多少？") == ["金额或比例"]
    assert names("80岁老人的高龄补贴一个月给多少？") == ["金额或比例"]
    assert names("高龄补贴一个月能给多少钱呐？") == ["费用或金额", "金额或比例"]
    assert names("车辆年检过期了会被罚款吗？") == ["罚款"]
    assert names("住院费回来零星报销，能报多少比例？起付线是多少？") == ["比例"]
    assert names("护照几年过期") == ["有效期"]
    assert names("临时备案办一次能管多久？") == ["时间", "有效期"]  # how long it holds, in days or months
    assert names("个体户最多能雇几个人？") == ["人数"]
    assert names("残疾人证有没有有效期？") == ["有效期"]
    assert names("电子港澳通行证有效期系多少年？") == ["有效期"]  # 係 of 粤语, made Simplified
    assert names("年报公示后发现填错了，最多能改几次？") == ["次数"]


def test_questions_that_only_mention_money_or_size_ask_for_no_quantity() -> None:
    assert names("医疗费用零星报销需要提供哪些材料？") == []  # 费用 names the matter
    assert names("公交车免费乘车证件都是什么？") == []
    assert names("肠管置管术是否可以按照胃管置管术收费？") == []  # how to bill, not what it costs
    assert names("学校占地面积多大？") == []
    assert names("社保要交满多少年才能领") == []  # years, not a sum
    assert names("结婚登记要带什么材料") == []
    assert names("刚结婚没多久，结婚证丢了怎么补？") == []  # 没多久: a while ago
    assert names("住进去之后没过多久就改了结构") == []
    assert names("我的车有几个罚单还没处理，能去年检吗") == []  # a ticket is not a fine asked about
    assert names("身份证有效期快到了，怎么换？") == []  # the premise, not the question
    assert names("子女教育每个月能申报多少") == []  # 申报 declares; 能报多少 asks a reimbursement's share


def test_an_answer_states_a_quantity_in_its_words_or_by_its_section() -> None:
    assert not unstated("补办身份证多少钱", [("收费标准", "补领工本费40元。")])
    assert not unstated("补办身份证多少钱", [("", "首次申领免收工本费。")])
    assert not unstated("驾照换证要多少钱", [("收费标准", "按国家规定标准收取驾驶证工本费，以车辆管理所公示为准。")])
    assert not unstated("多久能办好", [("办理流程", "材料齐全的，当场办结。")])
    assert not unstated("要多长时间", [("", "需要20个法定工作日。")])
    assert not unstated("多大必须办身份证", [("第二条", "年满十六周岁的中国公民应当申领居民身份证。")])
    assert not unstated("一个月给多少", [("支持标准", "按示例市当年公布的标准发放。")])


def test_an_answer_that_states_none_of_what_was_asked_is_told() -> None:
    law = [("第十一条", "居民身份证丢失的，应当申请补领。"), ("第二条", "年满十六周岁的中国公民应当申领居民身份证。")]
    assert [q.name for q in unstated("补办身份证多少钱", law)] == ["费用或金额"]
    assert [q.name for q in unstated("补办身份证多少钱，要多久", law)] == ["费用或金额", "时间"]
    assert [q.name for q in unstated("孩子都生了多久之内要上户口", [("问答", "可以补做生育登记。")])] == ["时间"]
    assert unstated("补办身份证要带什么", law) == ()  # asks for no quantity


def test_a_validity_a_fine_and_a_share_are_stated_only_in_their_own_words() -> None:
    assert not unstated("护照能用几年", [("受理条件", "护照有效期：未满16周岁的为5年，16周岁以上的为10年。")])
    assert not unstated("驾照换完能管几年", [("", "驾驶证有效期分为六年、十年和长期。")])
    # a guide deferring to the local rule states no validity, and a processing time is none
    deferring = [("办理时限", "一般即时办结。备案有效期以示例市医疗保障局公布为准。")]
    assert [q.name for q in unstated("临时备案办一次能管多久？", deferring)] == ["有效期"]
    assert [q.name for q in unstated("年检过期会被罚款吗", [("办理流程", "到检验机构检验。")])] == ["罚款"]
    assert not unstated("年报晚了会被罚吗", [("问答", "逾期未报的列入经营异常名录，不罚款。")])
    assert [q.name for q in unstated("能报多少比例", [("申请材料", "医疗费用发票")])] == ["比例"]
    assert not unstated("缴费比例是多少", [("收费标准", "缴费比例为20%。")])
    assert [q.name for q in unstated("更正最多能改几次", [("办理流程", "登录公示系统修改后重新公示。")])] == ["次数"]
    assert not unstated("公积金提取次数有限制吗", [("", "每年可提取1次。")])
    # 长期 of 异地长期居住人员 is no validity; 长期有效 is
    assert [q.name for q in unstated("备案能管几年", [("适用对象", "异地长期居住人员。")])] == ["有效期"]
    assert not unstated("身份证能用几年", [("", "46周岁以上的长期有效。")])
