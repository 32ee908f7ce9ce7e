"""Electronic licence types (电子证照目录): what a hall needs of GB/T 36901–36905.

GB/T 36902 describes a licence type by its catalogue entry (证照类型代码, 证照名称,
持证主体类别, 发证机构); GB/T 36903 a licence by its metadata (证照编号, 持证主体 and
its code, 发证机构, 发证日期, 有效期, 照面信息 data items, the file). Each data item here
names the shared library field it fills, so a licence held by the registry prefills
the one form and a rule can read it by the field's key.

An item is `public` when the law publishes it anyway (企业信息公示暂行条例: an
enterprise's name, credit code, legal representative, address, capital, scope): only
those are ever shown to someone who merely typed a holder's code. An enterprise's other
items prefill only for its legal representative signed in (the identity platform's
verified ID number is the one its business licence's registration data names). An item
is `locked` when the licence is its source of truth: a prefilled value of it cannot be
edited. Personal licences (an ID card) have no public item, so they prefill nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# 持证主体代码类型: what identifies the holder.
HOLDER_USCC = "uscc"  # 统一社会信用代码
HOLDER_RESIDENT_ID = "resident_id"  # 公民身份号码

TRUST_LEVELS = ("A", "B", "C", "D")
TRUST_NAMES = {
    # 国办函〔2016〕108号's grades of a material's trustworthiness.
    "A": {"zh-Hans": "A级：发证机关签发", "zh-Hant": "A級：發證機關簽發",
          "en": "A: issued by the authority"},
    "B": {"zh-Hans": "B级：窗口核验", "zh-Hant": "B級：窗口核驗", "en": "B: verified at a window"},
    "C": {"zh-Hans": "C级：申请人上传", "zh-Hant": "C級：申請人上傳",
          "en": "C: uploaded by the applicant"},
    "D": {"zh-Hans": "D级：申请人声明", "zh-Hant": "D級：申請人聲明",
          "en": "D: the applicant's own statement"},
}


@dataclass(frozen=True)
class LicenceItem:
    """One data item (照面信息) of a licence type, and the library field it fills."""

    key: str
    name: dict
    field: str | None = None
    public: bool = False
    locked: bool = False


@dataclass(frozen=True)
class LicenceType:
    """A catalogue entry (GB/T 36902): code, name, holder kind, issuer, data items."""

    code: str
    name: dict
    holder: str
    issuer: dict
    items: tuple[LicenceItem, ...] = field(default_factory=tuple)
    # How long a licence issued today is valid (None: long-term, 长期).
    years: int | None = None

    @property
    def holder_fields(self) -> tuple[str, ...]:
        """The library fields of the one form that carry the holder's code, in order."""
        if self.holder == HOLDER_USCC:
            return ("entity_uscc",)
        # The only personal licence materials name the legal representative's ID card.
        return ("legal_representative.id_number", "applicant_id_number", "resident_id")

    def item(self, key: str) -> LicenceItem | None:
        """The data item of this key, if the type has it."""
        return next((i for i in self.items if i.key == key), None)


def _t(hans: str, hant: str, en: str) -> dict:
    return {"zh-Hans": hans, "zh-Hant": hant, "en": en}


_AMR = _t("市场监督管理部门", "市場監督管理部門", "Administration for market regulation")

LICENCE_TYPES: dict[str, LicenceType] = {t.code: t for t in (
    LicenceType("business-licence", _t("营业执照", "營業執照", "Business licence"),
                HOLDER_USCC, _AMR, (
        LicenceItem("entity_name", _t("名称", "名稱", "Name"), "entity_name", True, True),
        LicenceItem("entity_uscc", _t("统一社会信用代码", "統一社會信用代碼",
                                      "Unified social credit code"), "entity_uscc", True, True),
        LicenceItem("legal_representative", _t("法定代表人", "法定代表人", "Legal representative"),
                    "legal_representative.name", True, True),
        LicenceItem("entity_type", _t("类型", "類型", "Type"), "entity_type", True, True),
        # The registered address (住所) is where a small business usually trades, but not
        # always: offered for the premises, editable.
        LicenceItem("division_code", _t("住所所在行政区划", "住所所在行政區劃",
                                        "Division of the registered address"),
                    "premises_address.division_code", True, False),
        LicenceItem("address", _t("住所", "住所", "Registered address"),
                    "premises_address.detail", True, False),
        LicenceItem("registered_capital", _t("注册资本", "註冊資本", "Registered capital"),
                    "registered_capital", True, True),
        LicenceItem("business_scope", _t("经营范围", "經營範圍", "Business scope"),
                    "business_scope", True, False),
        # Registration data behind the licence, not printed on it nor published: it tells
        # a signed-in person that they are this enterprise's legal representative, and
        # fills their ID number for them alone.
        LicenceItem("legal_representative_id_number",
                    _t("法定代表人身份证件号码", "法定代表人身份證件號碼",
                       "Legal representative's ID number"),
                    "legal_representative.id_number", False, True),
    )),
    # 不动产权证书 (不动产登记暂行条例): who owns the premises, where and how large. Not
    # public (registration data is open only to the owner and interested parties): it
    # prefills only for the enterprise's signed-in legal representative, editable, since
    # a business may trade in part of a building or in another one.
    LicenceType("real-estate-title", _t("不动产权证书", "不動產權證書", "Real estate title"),
                HOLDER_USCC, _t("不动产登记机构", "不動產登記機構",
                                "Real estate registration agency"), (
        LicenceItem("location", _t("坐落", "坐落", "Location"), "premises_address.detail"),
        LicenceItem("division_code", _t("坐落行政区划", "坐落行政區劃", "Division"),
                    "premises_address.division_code"),
        LicenceItem("building_area", _t("建筑面积（平方米）", "建築面積（平方米）",
                                        "Floor area (m²)"), "premises_area"),
        LicenceItem("floors", _t("所在层", "所在層", "Floors"),
                    "matters.fire-safety-check.floors_used"),
        LicenceItem("usage", _t("用途", "用途", "Use")),
        LicenceItem("ownership", _t("权利性质", "權利性質", "Nature of the right")),
    )),
    # 食品安全管理人员监督抽查考核合格证明: the market regulator assesses an enterprise's food
    # safety managers (市场监管总局 2019年第5号公告) and keeps the result under the enterprise's
    # credit code. The manager's name is personal: shown to the legal representative only.
    LicenceType("food-safety-manager-assessment",
                _t("食品安全管理人员考核合格证明", "食品安全管理人員考核合格證明",
                   "Food safety manager's assessment certificate"), HOLDER_USCC, _AMR, (
        LicenceItem("manager_name", _t("食品安全管理人员", "食品安全管理人員",
                                       "Food safety manager"),
                    "matters.food-business-licence.food_safety_manager_name"),
        LicenceItem("passed_on", _t("考核合格日期", "考核合格日期", "Passed on")),
    ), years=3),
    LicenceType("resident-id-card", _t("居民身份证", "居民身份證", "Resident identity card"),
                HOLDER_RESIDENT_ID, _t("公安机关", "公安機關", "Public security authority"), (
        LicenceItem("name", _t("姓名", "姓名", "Name")),
        LicenceItem("id_number", _t("公民身份号码", "公民身份號碼", "ID number")),
    ), years=20),
    # 居民户口簿: where a person's household is registered (户籍), which decides the local
    # benefits due to them. Personal: it prefills nothing and is shown to no one who merely
    # typed the number; rules (免申即享, 秒批) read its items.
    LicenceType("household-register", _t("居民户口簿", "居民戶口簿", "Household register"),
                HOLDER_RESIDENT_ID, _t("公安机关", "公安機關", "Public security authority"), (
        LicenceItem("name", _t("姓名", "姓名", "Name")),
        LicenceItem("birth_date", _t("出生日期", "出生日期", "Date of birth")),
        LicenceItem("division_code", _t("户籍地行政区划", "戶籍地行政區劃",
                                        "Division of the registered household")),
        LicenceItem("address", _t("住址", "住址", "Address")),
    )),
    LicenceType("food-business-licence", _t("食品经营许可证", "食品經營許可證",
                                            "Food business licence"), HOLDER_USCC, _AMR, (
        LicenceItem("entity_name", _t("经营者名称", "經營者名稱", "Operator"), "entity_name",
                    True, True),
        LicenceItem("premises_address", _t("经营场所", "經營場所", "Premises"),
                    "premises_address.detail", True, False),
    ), years=5),
    LicenceType("tobacco-retail-licence", _t("烟草专卖零售许可证", "煙草專賣零售許可證",
                                             "Tobacco retail licence"), HOLDER_USCC,
                _t("烟草专卖行政主管部门", "煙草專賣行政主管部門",
                   "Tobacco monopoly administration"), (
        LicenceItem("entity_name", _t("企业名称", "企業名稱", "Enterprise"), "entity_name",
                    True, True),
        LicenceItem("premises_address", _t("经营场所", "經營場所", "Premises"),
                    "premises_address.detail", True, False),
    ), years=5),
    LicenceType("fire-safety-check-permit", _t("公众聚集场所投入使用、营业前消防安全检查合格证",
                                               "公眾聚集場所投入使用、營業前消防安全檢查合格證",
                                               "Fire safety check permit"), HOLDER_USCC,
                _t("消防救援机构", "消防救援機構", "Fire and rescue authority"), (
        LicenceItem("entity_name", _t("单位名称", "單位名稱", "Entity"), "entity_name", True, True),
        LicenceItem("premises_address", _t("场所地址", "場所地址", "Premises"),
                    "premises_address.detail", True, False),
    )),
    # 行业综合许可证 (一业一证): one licence for the permits of a 一业一证 case, issued here
    # (cases/licences.py). Its validity is the bundle's (validity_years), not the type's.
    # Public: its verification page shows anyone the holder, the industry and the permits.
    LicenceType("industry-licence", _t("行业综合许可证", "行業綜合許可證",
                                       "Comprehensive industry licence"), HOLDER_USCC,
                _t("行政审批服务部门", "行政審批服務部門", "Administrative approval bureau"), (
        LicenceItem("entity_name", _t("持证主体", "持證主體", "Holder"), "entity_name",
                    True, True),
        LicenceItem("industry", _t("行业", "行業", "Industry"), None, True),
        LicenceItem("permits", _t("准营事项", "准營事項", "Permits"), None, True),
    )),
)}


def licence_type(code: str | None) -> LicenceType | None:
    """The licence type of this code, if the catalogue has it."""
    return LICENCE_TYPES.get(code) if code else None
